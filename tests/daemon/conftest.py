"""Fixtures for the daemon's tests: XDG directories in tmp_path, AWS settings for moto, buckets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import daemon_environ

from servers import motoserver


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as a daemon's (for in-process managers); returned too."""
    env = daemon_environ(tmp_path)
    for name in list(os.environ):
        if name.startswith(("AWS_", "XDG_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith(("AWS_", "XDG_")):
            monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def moto_bucket() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket) of a fresh bucket on the shared moto server."""
    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    yield endpoint, bucket
    motoserver.empty_bucket(endpoint, bucket)
