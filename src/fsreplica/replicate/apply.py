"""Doing one task: make the destination match the source for one key, as the disk is now."""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fsreplica._names import shown
from fsreplica.destinations import (
    Destination,
    NotRegularFileError,
    ObjectInfo,
    SourceChangedError,
    SourceFile,
    Staged,
)
from fsreplica.errors import DestinationError
from fsreplica.replicate.engine import ADOPT, DELETE, FORCE, Retry, Task
from fsreplica.replicate.health import DestinationHealth
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import FileRecord, State

# Failures of the system rather than of the file (out of file descriptors or memory, interrupted):
# retried with backoff, never recorded against the file.
_TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.EINTR})


@dataclass
class SyncReport:
    """What a replication did.

    Attributes:
        files_copied: Files sent to the destination.
        bytes_copied: Their bytes.
        deleted: Keys removed from the destination.
        renamed: Files renamed at the destination instead of being sent again.
        metadata_updated: Files touched or chmod-ed whose content was unchanged (not re-sent).
        unchanged: Files found already in place.
        skipped: (key, why) of source entries that are not regular files.
        failed: (key, cause) of files that could not be replicated.
        refused: Why deletions were refused by a safety guard, if they were.
    """

    files_copied: int = 0
    bytes_copied: int = 0
    deleted: int = 0
    renamed: int = 0
    metadata_updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed and no deletion was refused."""
        return not self.failed and self.refused is None

    def summary(self) -> str:
        """One line for people."""
        parts = [
            f"{self.files_copied} copied ({_human(self.bytes_copied)})",
            f"{self.deleted} deleted",
            f"{self.renamed} renamed",
            f"{self.unchanged + self.metadata_updated} unchanged",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


class Applier:
    """Applies tasks for one source root and destination; thread-safe for distinct keys.

    Args:
        root: The absolute source directory.
        destination: Where to replicate.
        state: The state database.
        delete: Propagate deletions.
        links: Copy symlinks as symlinks (the destination has "put_link").
        logger: Where to log.
        health: Told of every transient failure and success of the destination.

    Attributes:
        parked: Called with each task parked as failed (real time: to check it again later).
        follow: Called with the other names of a hard-linked file a change was copied for
            (real time: the watcher reports only the name written through).
    """

    def __init__(
        self,
        root: str,
        destination: Destination,
        state: State,
        *,
        delete: bool,
        links: bool = False,
        logger: logging.Logger,
        health: DestinationHealth | None = None,
    ) -> None:
        self.root = root
        self.dest = destination
        self.state = state
        self.journal = Journal(state)
        self.delete = delete
        self.links = links
        self.log = logger
        self.health = health or DestinationHealth(destination.url, logger=logger)
        self.parked: Callable[[Task], None] | None = None
        self.follow: Callable[[list[str]], None] | None = None
        self.report = SyncReport()
        self._lock = threading.Lock()
        # The mass-delete guard for deletes seen live (None: not replicating in real time).
        self.max_delete: int | None = None
        self._live_baseline: int | None = None
        self._live_deleted = 0
        self._live_added = 0  # new keys put since the reconcile: the destination grew
        self._refusal_logged = False

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    def __call__(self, task: Task) -> Retry | None:
        """Apply `task`; return Retry when a transient failure should be retried."""
        return self.batch([task])[0]

    def batch(self, tasks: list[Task]) -> list[Retry | None]:
        """Apply tasks of distinct keys; one outcome per task (Retry: try again later).

        With a destination that can stage, the copies are written first, published together
        (one flush for the batch) and recorded in one transaction with their journal acks.
        An unexpected exception while doing one task is that task's failure (recorded, logged,
        counted): it never drops the other tasks of the batch.
        """
        work = _Batch(
            stage="stage" in self.dest.capabilities,
            records=self.state.get_many([task.key for task in tasks]),
        )
        try:
            outcomes = [self._guarded(work, task) for task in tasks]
            if work.staged:
                try:
                    self._publish(work, tasks, outcomes)
                except Exception as exc:
                    # The destination raised instead of answering per file: none was published.
                    for item in work.staged:
                        self.dest.discard(item.staged)  # type: ignore[attr-defined]
                        self._unexpected(item.task, exc)
                    work.staged = []
        except BaseException:
            for item in work.staged:
                self.dest.discard(item.staged)  # type: ignore[attr-defined]
            raise
        if work.done:
            # Keys of one batch are distinct (a rename, which drops its old key, runs alone):
            # the order of the statements does not matter, so each kind is one executemany.
            done = work.done
            gone = [old for _, _, old in done if old is not None]
            gone += [task.key for task, rec, _ in done if rec is None]
            records = [rec for _, rec, _ in done if rec is not None]
            seqs = [seq for task, _, _ in done for seq in task.seqs]
            with self.state.transaction() as db:
                if gone:
                    self.state.forget_many(db, gone)
                if records:
                    self.state.record_many(db, records)
                if seqs:
                    self.journal.ack(db, seqs)
        if work.hard_linked and self.follow is not None:
            self._follow_hard_links(work.hard_linked, {task.key for task in tasks})
        return outcomes

    def _follow_hard_links(self, linked: list[tuple[str, int]], skip: set[str]) -> None:
        """Queue the other recorded names of the hard-linked files just copied."""
        assert self.follow is not None
        others = [
            key
            for copied, inode in linked
            for key in self.state.keys_with_inode(inode)
            if key != copied and key not in skip
        ]
        if others:
            self.follow(others)

    def _publish(self, work: _Batch, tasks: list[Task], outcomes: list[Retry | None]) -> None:
        items = work.staged
        staged = [item.staged for item in items]
        results = self.dest.publish(staged)  # type: ignore[attr-defined]
        work.staged = []  # published or discarded by the destination
        index = {id(task): n for n, task in enumerate(tasks)}
        copied = size = 0
        for item, result in zip(items, results, strict=True):
            task = item.task
            if isinstance(result, DestinationError):
                if result.retryable:
                    self.health.failed(result, since=work.started)
                    outcomes[index[id(task)]] = Retry(result)
                else:
                    self._failed(task, result.op, str(result))
                continue
            work.done.append((task, _record(task.key, item.stat, item.sha256, result), None))
            work.copied(task, item.stat)
            copied += 1
            size += result.size
            self.log.info("put %s (%d bytes)", shown(task.key), result.size)
        if copied:
            self.health.succeeded()
        with self._lock:
            self.report.files_copied += copied
            self.report.bytes_copied += size

    def _guarded(self, work: _Batch, task: Task) -> Retry | None:
        """Do one task of a batch; an exception nobody expected becomes its failure."""
        staged, done = len(work.staged), len(work.done)
        try:
            return self._one(work, task)
        except Exception as exc:
            for item in work.staged[staged:]:  # staged before it failed: never published
                self.dest.discard(item.staged)  # type: ignore[attr-defined]
            del work.staged[staged:]
            del work.done[done:]
            self._unexpected(task, exc)
            return None

    def _unexpected(self, task: Task, exc: Exception) -> None:
        # A bug, or a case no one thought of: one line for people, the traceback for -v.
        self.log.debug("replicate %s: unexpected error", shown(task.key), exc_info=exc)
        self._failed(task, "replicate", f"unexpected error: {type(exc).__name__}: {exc}")

    def _one(self, work: _Batch, task: Task) -> Retry | None:
        key = task.key
        path = os.path.join(self.root, key)
        try:
            st: os.stat_result | None = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except OSError as exc:
            if exc.errno in _TRANSIENT:
                return Retry(exc)
            self._failed(task, "read", _reason(exc))
            return None
        try:
            if st is not None and stat.S_ISREG(st.st_mode):
                self._present(work, task, path, st)
            elif st is not None and self.links and stat.S_ISLNK(st.st_mode):
                self._link(work, task, path, st)
            else:
                self._absent(work, task)
        except SourceChangedError as exc:
            return Retry(exc)
        except OSError as exc:  # only the transient ones leave _present
            return Retry(exc)
        except DestinationError as exc:
            if exc.retryable:
                self.health.failed(exc, since=work.started)
                return Retry(exc)
            self._failed(task, exc.op, str(exc))
        return None

    def give_up(self, task: Task, error: BaseException) -> None:
        """Park a task that exhausted its retries; the next reconcile tries again."""
        self._failed(task, "put", f"{_reason(error)} (gave up after {task.attempt} attempts)")

    def _failed(self, task: Task, op: str, reason: str) -> None:
        with self.state.transaction() as db:
            new = self.state.fail(db, task.key, op, reason)
            self.journal.ack(db, task.seqs)
        with self._lock:
            self.report.failed.append((task.key, reason))
        if new:
            self.log.warning(
                "%s %s: %s", op, shown(os.path.join(self.root, task.key)), shown(reason)
            )
        if self.parked is not None:
            self.parked(task)

    def watch_deletes(self, dest_count: int) -> None:
        """Guard live deletes from now on, for a destination of `dest_count` files.

        Called after each reconcile of real-time replication: deletes seen by the watcher count
        against the same limits until the next one (`rm -rf` of the source, an unmounted source
        whose files vanish one by one, must not empty the destination). What counts is how much
        of the destination would be gone: live deletes less the new files put for live changes
        since the reconcile, so steady churn (files created and deleted, the tree's size
        constant) is never refused.
        """
        with self._lock:
            self._live_baseline = dest_count
            self._live_deleted = 0
            self._live_added = 0
            self._refusal_logged = False

    def _live_refusal(self) -> str | None:
        """Count one more live delete, or say why it is refused."""
        with self._lock:
            baseline = self._live_baseline
            if baseline is None:
                return None
            limit = self.max_delete
            gone = self._live_deleted - self._live_added + 1  # net, with this one
            if limit is not None:
                if 0 <= limit < gone:
                    return (
                        f"more than --max-delete {limit} files would be gone from the "
                        "destination since the last reconcile"
                    )
            elif _empty_or_gone(self.root):
                return "source is empty or gone (unmounted?); pass --max-delete to allow"
            elif gone * 2 > baseline:
                return (
                    "deletes since the last reconcile would remove more than half of the "
                    f"{baseline} files at the destination; pass --max-delete to allow"
                )
            self._live_deleted += 1
            return None

    def _refuse_delete(self, task: Task, reason: str) -> None:
        with self.state.transaction() as db:
            self.state.fail(db, task.key, "delete", f"refused: {reason}")
            self.journal.ack(db, task.seqs)
        with self._lock:
            self.report.failed.append((task.key, f"delete refused: {reason}"))
            first = not self._refusal_logged
            self._refusal_logged = True
        if first:  # one line, not one per file of a removed tree
            self.log.error(
                "delete refused in %s: %s; kept at the destination until a reconcile allows it",
                self.root,
                reason,
            )
            self.state.set_meta(deletes_refused=reason)  # shown by `status` until a reconcile

    def _absent(self, work: _Batch, task: Task) -> None:
        had = task.key in work.records or task.mode == DELETE
        if self.delete and had and (reason := self._live_refusal()) is not None:
            self._refuse_delete(task, reason)
            return
        if self.delete:
            self.dest.delete(task.key)
            self.health.succeeded()
            if had:
                self._count("deleted")
                self.log.info("delete %s", shown(task.key))
        work.done.append((task, None, None))

    def _present(self, work: _Batch, task: Task, path: str, st: os.stat_result) -> None:
        key = task.key
        rec = work.records.get(key)
        if task.mode not in (FORCE, ADOPT) and rec is not None and rec.same_stat(st):
            work.done.append((task, rec, None))
            self._count("unchanged")
            return
        if task.moved_from is not None and self._rename(work, task, st):
            return
        if rec is None and task.seqs and self._live_baseline is not None:
            with self._lock:
                self._live_added += 1  # a live change grew the destination (not the reconcile's)
        try:
            if self._kept(work, task, path, st, rec):
                return
            with SourceFile(path) as source:
                if work.stage:
                    staged = self.dest.stage(key, source)  # type: ignore[attr-defined]
                    work.staged.append(_Staged(task, staged, source.stat, source.sha256))
                    return
                info = self.dest.put(key, source)
                self.health.succeeded()
                work.done.append((task, _record(key, source.stat, source.sha256, info), None))
                work.copied(task, source.stat)
        except (FileNotFoundError, NotADirectoryError, NotRegularFileError):
            self._absent(work, task)
            return
        except SourceChangedError:
            raise
        except OSError as exc:
            if exc.errno in _TRANSIENT:
                raise
            self._failed(task, "read", _reason(exc))
            return
        with self._lock:
            self.report.files_copied += 1
            self.report.bytes_copied += info.size
        self.log.info("put %s (%d bytes)", shown(key), info.size)

    def _link(self, work: _Batch, task: Task, path: str, st: os.stat_result) -> None:
        """Copy the symlink at `path` as a symlink: its target text, never what it points to."""
        try:
            target = os.readlink(path)
        except FileNotFoundError:
            self._absent(work, task)
            return
        except OSError as exc:
            if exc.errno in _TRANSIENT:
                raise
            self._failed(task, "read", _reason(exc))
            return
        self.dest.put_link(task.key, target, mtime_ns=st.st_mtime_ns)  # type: ignore[attr-defined]
        self.health.succeeded()
        work.done.append((task, None, None))  # a link has no state record: its text is compared
        self._count("files_copied")
        self.log.info("link %s -> %s", task.key, target)

    def _kept(
        self, work: _Batch, task: Task, path: str, st: os.stat_result, rec: FileRecord | None
    ) -> bool:
        """True when the destination already has this content (checked by hash)."""
        if task.mode == ADOPT and task.dest_info is not None:
            return self._adopt(work, task, path, task.dest_info)
        if task.mode != FORCE and rec is not None and rec.size == st.st_size:
            return self._same_content(work, task, path, rec)
        return False

    def _hash(self, path: str) -> tuple[str, os.stat_result]:
        with SourceFile(path) as source:
            for _ in source.chunks():
                pass
            source.check_unchanged()
            assert source.sha256 is not None
            return source.sha256, source.stat

    def _same_content(self, work: _Batch, task: Task, path: str, rec: FileRecord) -> bool:
        """A touched or chmod-ed file: if its content is unchanged, update metadata only."""
        if rec.sha256 is None:
            return False
        sha256, st = self._hash(path)
        if sha256 != rec.sha256:
            return False
        dest_mtime = rec.dest_mtime_ns
        mode = st.st_mode & 0o7777
        if (st.st_mtime_ns != rec.mtime_ns or mode != rec.mode) and (
            "set_metadata" in self.dest.capabilities
        ):
            info = self.dest.set_metadata(  # type: ignore[attr-defined]
                task.key, mtime_ns=st.st_mtime_ns, mode=mode
            )
            dest_mtime = info.mtime_ns
            self.health.succeeded()
        work.done.append((task, _record(task.key, st, sha256, None, dest_mtime), None))
        self._count("metadata_updated")
        return True

    def _adopt(self, work: _Batch, task: Task, path: str, info: ObjectInfo) -> bool:
        """An object with the same size and mtime is at the destination: keep it if identical."""
        if info.sha256 is None and "quick_list" in self.dest.capabilities:
            try:
                info = self.dest.stat(task.key)  # the quick listing left the hash out
            except FileNotFoundError:
                return False
        sha256, st = self._hash(path)
        if info.sha256 is not None and info.sha256 != sha256:
            return False
        if st.st_size != info.size or st.st_mtime_ns != info.mtime_ns:
            return False
        work.done.append((task, _record(task.key, st, sha256, info), None))
        self._count("unchanged")
        return True

    def _rename(self, work: _Batch, task: Task, st: os.stat_result) -> bool:
        """Rename at the destination when it still holds exactly the old file."""
        old = task.moved_from
        assert old is not None
        orec = self.state.get(old)
        if "rename" not in self.dest.capabilities or orec is None:
            return False
        if (orec.size, orec.mtime_ns, orec.inode, orec.mode) != (
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
            st.st_mode & 0o7777,
        ):
            return False
        try:
            if os.lstat(os.path.join(self.root, old)).st_ino == orec.inode:
                return False  # still there (a hard link): both must exist
        except OSError:
            pass
        try:
            dinfo = self.dest.stat(old)
            if (dinfo.size, dinfo.mtime_ns) != (orec.size, orec.dest_mtime_ns) or (
                dinfo.sha256 and orec.sha256 and dinfo.sha256 != orec.sha256
            ):
                return False
            info = self.dest.rename(old, task.key)  # type: ignore[attr-defined]
        except FileNotFoundError:
            return False
        self.health.succeeded()
        work.done.append((task, _record(task.key, st, orec.sha256, info), old))
        self._count("renamed")
        self.log.info("rename %s -> %s", shown(old), shown(task.key))
        return True


@dataclass(slots=True)
class _Staged:
    task: Task
    staged: Staged
    stat: os.stat_result
    sha256: str | None


@dataclass(slots=True)
class _Batch:
    """What one batch did, recorded in one transaction at its end."""

    stage: bool
    records: dict[str, FileRecord]
    done: list[tuple[Task, FileRecord | None, str | None]] = field(default_factory=list)
    staged: list[_Staged] = field(default_factory=list)
    hard_linked: list[tuple[str, int]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def copied(self, task: Task, st: os.stat_result) -> None:
        """Note a copy; a live change of a hard-linked file is one of all its names."""
        if st.st_nlink > 1 and task.seqs:
            self.hard_linked.append((task.key, st.st_ino))


def _record(
    key: str,
    st: os.stat_result,
    sha256: str | None,
    info: ObjectInfo | None,
    dest_mtime_ns: int | None = None,
) -> FileRecord:
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


def _empty_or_gone(root: str) -> bool:
    """Return True if the directory `root` is missing or has no entries at all."""
    try:
        with os.scandir(root) as entries:
            return next(entries, None) is None
    except OSError:
        return True
