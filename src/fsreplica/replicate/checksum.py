"""`--checksum`: a reconcile that compares content, not only size, mtime and the state's record.

A reconcile trusts a file whose size and mtime match what was recorded; a corruption at the
destination that keeps the size (a flipped byte, a restore of an older copy with the same mtime)
survives it. With `--checksum`, as rsync and rclone name it, every file on both sides is hashed
(the destination's content read and hashed where it can be read, else the SHA-256 it recorded)
and each one that differs, or whose mode there differs, is copied again.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from fsreplica.destinations import Destination, ObjectInfo, SourceFile, features_of
from fsreplica.replicate.engine import Mode, Task
from fsreplica.replicate.march import Plan
from fsreplica.replicate.verify import Read, dest_sha256

WORKERS = 4
"""Files hashed at once (reading both sides is I/O bound)."""


def _differs(root: str, key: str, info: ObjectInfo, read: Read | None) -> bool:
    """True when `key`'s content or mode at the destination is not the source's (or unknown)."""
    try:
        with SourceFile(os.path.join(root, key)) as source:
            if source.size != info.size or (info.mode is not None and info.mode != source.mode):
                return True  # a mode is put with the content (as `verify` reports it: metadata)
            digest = hashlib.sha256()
            for chunk in source.chunks():
                digest.update(chunk)
        return dest_sha256(read, key, info) != digest.hexdigest()
    except OSError:
        # Gone or unreadable on either side: the copy finds out and reports it.
        return True


def by_content(
    plan: Plan,
    root: str,
    files: dict[str, os.stat_result],
    listing: dict[str, ObjectInfo],
    destination: Destination,
    *,
    workers: int = WORKERS,
) -> None:
    """Turn every file of `plan` found on both sides whose content or mode differs into a copy.

    Args:
        plan: A plan just made from `files` and `listing`; changed in place.
        root: The source directory.
        files: The source's regular files by key.
        listing: The destination's objects by key.
        destination: Where the objects are read (or their recorded hashes come from).
        workers: Files hashed at once.
    """
    forced = {task.key for task in plan.tasks if task.mode is Mode.FORCE}
    both = [key for key in files if key in listing and key not in forced]
    if not both:
        return
    read = features_of(destination).read
    with ThreadPoolExecutor(max_workers=workers) as pool:
        flags = list(pool.map(lambda k: _differs(root, k, listing[k], read), both))
    differ = {key for key, flag in zip(both, flags, strict=True) if flag}
    if not differ:
        return
    queued = {task.key for task in plan.tasks}
    plan.tasks[:] = [task for task in plan.tasks if task.key not in differ]
    plan.tasks.extend(Task(key, mode=Mode.FORCE) for key in sorted(differ))
    plan.unchanged -= len(differ - queued)
