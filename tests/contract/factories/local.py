"""Contract factory: LocalDestination on a directory in tmp_path."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fsreplica.destinations.local import LocalDestination


@contextlib.contextmanager
def local(tmp_path: Path) -> Iterator[LocalDestination]:
    dest = LocalDestination(tmp_path / "dest")
    try:
        yield dest
    finally:
        dest.close()


@contextlib.contextmanager
def local_nofsync(tmp_path: Path) -> Iterator[LocalDestination]:
    dest = LocalDestination(tmp_path / "dest", fsync=False)
    try:
        yield dest
    finally:
        dest.close()


FACTORIES = [("local", local), ("local-nofsync", local_nofsync)]
