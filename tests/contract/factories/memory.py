"""Contract factory: MemoryDestination."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fsreplica.destinations.memory import MemoryDestination


@contextlib.contextmanager
def memory(tmp_path: Path) -> Iterator[MemoryDestination]:
    dest = MemoryDestination(tmp_path.name)
    try:
        yield dest
    finally:
        dest.close()


FACTORIES = [("memory", memory)]
