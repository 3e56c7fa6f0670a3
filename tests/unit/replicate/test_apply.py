"""The Applier, built from its collaborators, on a real directory and state database."""

from __future__ import annotations

import errno
import logging
import os
import resource
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import DestinationError
from fsreplica.replicate import State
from fsreplica.replicate.apply import Applier
from fsreplica.replicate.engine import Mode, Retry, Task
from fsreplica.replicate.guard import DeleteGuard
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.outcomes import Outcomes
from fsreplica.replicate.report import Report

T = TypeVar("T")


class Parts:
    """An Applier and the collaborators it counts and persists through."""

    def __init__(self, src: Path, dest: MemoryDestination, state: State, guard: DeleteGuard):
        self.dest = dest
        self.state = state
        self.journal = Journal(state)
        self.report = Report()
        self.guard = guard
        self.applier = Applier(
            str(src),
            dest,
            state,
            outcomes=Outcomes(state, self.journal),
            report=self.report,
            guard=guard,
            delete=True,
            logger=logging.getLogger("fsreplica.test"),
        )


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    state = State(tmp_path / "s.db")
    try:
        yield Parts(src, MemoryDestination(), state, DeleteGuard(str(src), max_delete=None))
    finally:
        state.close()


class TestApplier:
    """What one batch does, counts and records."""

    def test_a_copy_is_counted_recorded_and_acknowledged(self, parts: Parts) -> None:
        seq = parts.journal.append("a.txt", "put")
        assert parts.applier.batch([Task("a.txt", [seq])]) == [None]
        report = parts.report.snapshot()
        assert (report.files_copied, report.bytes_copied) == (1, 5)
        assert parts.state.get("a.txt") is not None
        assert parts.journal.count() == 0

    def test_a_live_delete_refused_is_recorded_once_and_kept(
        self, parts: Parts, tmp_path: Path
    ) -> None:
        parts.applier.batch([Task("a.txt")])
        (tmp_path / "src" / "a.txt").unlink()
        parts.guard.watch(1)
        seq = parts.journal.append("a.txt", "delete")
        assert parts.applier.batch([Task("a.txt", [seq], mode=Mode.DELETE)]) == [None]
        assert list(parts.dest.keys()) == ["a.txt"]
        [(key, cause)] = parts.report.snapshot().failed
        assert key == "a.txt"
        assert cause.startswith("delete refused: source is empty (unmounted?)")
        assert parts.state.get_meta("deletes_refused") == cause.removeprefix("delete refused: ")
        assert [f.op for f in parts.state.failures()] == ["delete"]
        assert parts.journal.count() == 0

    def test_out_of_file_descriptors_is_retried_not_failed(self, parts: Parts) -> None:
        # EMFILE says nothing about the file: a daemon that parked the file as failed would leave
        # it stale until the next periodic reconcile (an hour by default).
        applier = parts.applier
        outcomes = _with_no_free_descriptors(lambda: applier.batch([Task("a.txt")]))
        retry = outcomes[0]
        assert isinstance(retry, Retry)
        assert isinstance(retry.error, OSError)
        assert retry.error.errno == errno.EMFILE
        assert parts.report.snapshot().failed == []
        assert parts.state.failures() == []
        assert applier.batch([Task("a.txt")]) == [None]
        assert list(parts.dest.keys()) == ["a.txt"]


def _with_no_free_descriptors(fn: Callable[[], T]) -> T:
    """Run `fn` with every file descriptor the limit allows in use; restore the limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
    filler: list[int] = []
    try:
        while (fd := _open_unless_full()) >= 0:
            filler.append(fd)
        return fn()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _open_unless_full() -> int:
    """Open /dev/null, or return -1 once the process is out of descriptors (EMFILE)."""
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
        return -1


class _Refusing(MemoryDestination):
    """A destination that refuses every put for good."""

    def put(self, key: str, source: object) -> object:  # type: ignore[override]
        raise DestinationError("put", f"memory://{key}", "access denied")


def test_a_failed_put_names_one_op_one_path_one_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    state = State(tmp_path / "s.db")
    try:
        parts = Parts(src, _Refusing(), state, DeleteGuard(str(src), max_delete=None))
        with caplog.at_level(logging.WARNING, logger="fsreplica.test"):
            assert parts.applier.batch([Task("a.txt")]) == [None]
    finally:
        state.close()
    assert parts.report.snapshot().failed == [("a.txt", "access denied")]
    assert [r.getMessage() for r in caplog.records] == [f"put {src}/a.txt: access denied"]
