"""What a watcher reports: an operation on a key, with the time of the change."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Operation(StrEnum):
    """The two things a destination must do for a path: store it or remove it."""

    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class FileSystemEvent:
    """A change of one regular file under a watched root.

    Attributes:
        root: The watched root the key is relative to (absolute path).
        key: The path relative to the root, '/'-separated.
        operation: PUT when the path holds a complete regular file, DELETE when it is gone.
        time: When the change was seen, in seconds since the epoch.
        moved_from: For a put caused by a rename inside the tree, the old key.
    """

    root: str
    key: str
    operation: Operation
    time: float
    moved_from: str | None = None

    @property
    def path(self) -> str:
        """The absolute path of the file."""
        return self.root + os.sep + self.key.replace("/", os.sep)

    @property
    def timestamp(self) -> datetime:
        """The time of the change as a timezone-aware UTC datetime."""
        return datetime.fromtimestamp(self.time, UTC)

    def __str__(self) -> str:
        return f"{self.operation}: {self.path}"
