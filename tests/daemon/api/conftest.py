"""Fixtures: a real daemon per test, or one per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_daemon import RunningDaemon, running


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    """A daemon of its own, with one policy "docs" (src/ -> dst/)."""
    with running(tmp_path) as started:
        yield started


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """One daemon for the tests of a module that only add policies of their own ids."""
    with running(tmp_path_factory.mktemp("daemon")) as started:
        yield started
