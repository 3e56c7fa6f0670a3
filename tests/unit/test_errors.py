"""Every error class lives in fsreplica.errors, under FsreplicaError, and is exported."""

from __future__ import annotations

import inspect

import pytest

import fsreplica
from fsreplica import errors


def _error_classes() -> list[type[BaseException]]:
    return [
        value
        for _, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, BaseException) and value.__module__ == errors.__name__
    ]


class TestErrors:
    """The one module of errors."""

    @pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
    def test_under_the_base_and_exported(self, cls: type[BaseException]) -> None:
        assert issubclass(cls, fsreplica.FsreplicaError)
        assert getattr(fsreplica, cls.__name__) is cls
        assert cls.__name__ in fsreplica.__all__

    def test_every_subclass_defined_there(self) -> None:
        import fsreplica.destinations.local  # noqa: PLC0415 - load every error a module defines
        import fsreplica.destinations.s3  # noqa: PLC0415
        import fsreplica.replicate  # noqa: PLC0415
        import fsreplica.replicate.verify  # noqa: PLC0415

        seen: set[type[BaseException]] = set()
        todo: list[type[BaseException]] = [fsreplica.FsreplicaError]
        while todo:
            cls = todo.pop()
            seen.add(cls)
            todo.extend(sub for sub in cls.__subclasses__() if sub not in seen)
        assert {cls.__module__ for cls in seen} == {"fsreplica.errors"}

    def test_preflight(self) -> None:
        error = fsreplica.PreflightError("s3://bucket", "bucket does not exist")
        assert isinstance(error, fsreplica.DestinationError)
        assert (error.op, error.retryable) == ("preflight", False)
        assert str(error) == "s3://bucket: bucket does not exist"
