"""What one batch of tasks did, kept until it is recorded in one transaction at its end."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from fsreplica.destinations import ObjectInfo, Staged, SupportsStage
from fsreplica.replicate.engine import Task
from fsreplica.replicate.outcomes import Done
from fsreplica.replicate.state import FileRecord


@dataclass(slots=True)
class StagedCopy:
    """A copy written to the destination but not yet published."""

    task: Task
    staged: Staged
    stat: os.stat_result
    sha256: str | None


@dataclass(slots=True)
class Batch:
    """What one batch did, recorded in one transaction at its end.

    Attributes:
        stage: The destination, if it stages copies (published together at the end).
        records: The state's records of the batch's keys.
        done: Tasks done, with their new records.
        staged: Copies staged and not yet published.
        hard_linked: (key, inode) of hard-linked files copied for live changes.
        started: When the batch started (monotonic), for the destination's health.
    """

    stage: SupportsStage | None
    records: dict[str, FileRecord]
    done: list[Done] = field(default_factory=list)
    staged: list[StagedCopy] = field(default_factory=list)
    hard_linked: list[tuple[str, int]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def copied(self, task: Task, st: os.stat_result) -> None:
        """Note a copy; a live change of a hard-linked file is one of all its names."""
        if st.st_nlink > 1 and task.seqs:
            self.hard_linked.append((task.key, st.st_ino))


def make_record(
    key: str,
    st: os.stat_result,
    sha256: str | None,
    info: ObjectInfo | None,
    dest_mtime_ns: int | None = None,
) -> FileRecord:
    """The state record of `key` as copied: its source stat and what the destination holds."""
    if info is not None:
        dest_mtime_ns = info.mtime_ns
        sha256 = sha256 or info.sha256
    assert dest_mtime_ns is not None
    return FileRecord(
        key,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_mode & 0o7777,
        sha256,
        dest_mtime_ns,
    )
