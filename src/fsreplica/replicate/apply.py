"""Doing one task: make the destination match the source for one key, as the disk is now."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable

from fsreplica._names import shown
from fsreplica._oserrors import OSErrorKind, cause_of, classify_oserror
from fsreplica.destinations import (
    Destination,
    Features,
    NotRegularFileError,
    ObjectInfo,
    SourceChangedError,
    SourceFile,
    features_of,
)
from fsreplica.errors import DestinationError
from fsreplica.replicate.batch import Batch, StagedCopy, make_record
from fsreplica.replicate.engine import Mode, Retry, Task
from fsreplica.replicate.guard import DeleteGuard
from fsreplica.replicate.health import DestinationHealth
from fsreplica.replicate.observe import Change, Observer, put_change
from fsreplica.replicate.outcomes import Outcomes
from fsreplica.replicate.report import Report
from fsreplica.replicate.state import FileRecord, State


class Applier:
    """Applies tasks for one source root and destination; thread-safe for distinct keys.

    It decides what each key needs from the disk as it is now, counts what it did in `report`,
    asks `guard` before a live delete and hands every outcome to `outcomes` to persist.

    Args:
        root: The absolute source directory.
        destination: Where to replicate.
        state: The state database (read: the records of the keys).
        outcomes: Where outcomes are persisted.
        report: Where outcomes are counted.
        guard: Asked before each delete (it counts deletes seen live once it watches).
        delete: Propagate deletions.
        links: Copy symlinks as symlinks (the destination has "put_link").
        logger: Where to log.
        health: Told of every transient failure and success of the destination.
        parked: Called with each task parked as failed (to check it again later, or not).
        follow: Called with the other names of a hard-linked file a live change was copied for
            (the watcher reports only the name written through).
        observer: Told of each put, delete, rename, failure and refusal (see `Change`).
    """

    def __init__(
        self,
        root: str,
        destination: Destination,
        state: State,
        *,
        outcomes: Outcomes,
        report: Report,
        guard: DeleteGuard,
        delete: bool,
        links: bool = False,
        logger: logging.Logger,
        health: DestinationHealth | None = None,
        parked: Callable[[Task], None] | None = None,
        follow: Callable[[list[str]], None] | None = None,
        features: Features | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.root = root
        self.dest = destination
        self.features = features or features_of(destination)
        self.state = state
        self.outcomes = outcomes
        self.report = report
        self.guard = guard
        self.delete = delete
        self.links = links
        self.log = logger
        self.health = health or DestinationHealth(destination.url, logger=logger)
        self.parked = parked
        self.follow = follow
        self.observer = observer

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
        work = Batch(
            stage=self.features.stage,
            records=self.state.get_many([task.key for task in tasks]),
        )
        try:
            outcomes = [self._guarded(work, task) for task in tasks]
            if work.staged:
                try:
                    self._publish(work, tasks, outcomes)
                except Exception as exc:
                    # The destination raised instead of answering per file: none was published.
                    _discard(work, work.staged)
                    for item in work.staged:
                        self._unexpected(item.task, exc)
                    work.staged = []
        except BaseException:
            _discard(work, work.staged)
            raise
        self.outcomes.done(work.done)
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

    def _publish(self, work: Batch, tasks: list[Task], outcomes: list[Retry | None]) -> None:
        items = work.staged
        staged = [item.staged for item in items]
        assert work.stage is not None  # only a staging destination has staged copies
        results = work.stage.publish(staged)
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
                    self._failed(task, result.op, result.reason)
                continue
            work.done.append((task, make_record(task.key, item.stat, item.sha256, result), None))
            work.copied(task, item.stat)
            copied += 1
            size += result.size
            self.log.info("put %s (%d bytes)", shown(task.key), result.size)
            if self.observer is not None:
                self.observer(put_change(task.key, result.size, item.stat.st_mtime_ns))
        if copied:
            self.health.succeeded(started=work.started)
            self.report.copied(copied, size)

    def _guarded(self, work: Batch, task: Task) -> Retry | None:
        """Do one task of a batch; an exception nobody expected becomes its failure."""
        staged, done = len(work.staged), len(work.done)
        try:
            return self._one(work, task)
        except Exception as exc:
            _discard(work, work.staged[staged:])  # staged before it failed: never published
            del work.staged[staged:]
            del work.done[done:]
            self._unexpected(task, exc)
            return None

    def _unexpected(self, task: Task, exc: Exception) -> None:
        # A bug, or a case no one thought of: one line for people, the traceback for -v.
        self.log.debug("replicate %s: unexpected error", shown(task.key), exc_info=exc)
        self._failed(task, "replicate", f"unexpected error: {type(exc).__name__}: {exc}")

    def _one(self, work: Batch, task: Task) -> Retry | None:
        key = task.key
        path = os.path.join(self.root, key)
        try:
            st: os.stat_result | None = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except OSError as exc:
            if classify_oserror(exc) is OSErrorKind.SYSTEM:
                return Retry(exc)
            self._failed(task, "read", cause_of(exc))
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
            self._failed(task, exc.op, exc.reason)
        return None

    def give_up(self, task: Task, error: BaseException) -> None:
        """Park a task that exhausted its retries; the next reconcile tries again."""
        self._failed(task, "put", f"{cause_of(error)} (gave up after {task.attempt} attempts)")

    def _failed(self, task: Task, op: str, reason: str) -> None:
        new = self.outcomes.failed(task, op, reason)
        self.report.failed(task.key, reason)
        if self.observer is not None:
            self.observer(Change("failed", task.key, time.time(), detail=f"{op}: {reason}"))
        if new:
            self.log.warning(
                "%s %s: %s", op, shown(os.path.join(self.root, task.key)), shown(reason)
            )
        if self.parked is not None:
            self.parked(task)

    def _refuse_delete(self, task: Task, reason: str) -> None:
        first = self.guard.first_refusal()
        self.outcomes.refused(task, reason, first=first)
        self.report.failed(task.key, f"delete refused: {reason}")
        if self.observer is not None:
            self.observer(Change("refused", task.key, time.time(), detail=reason))
        if first:  # one line, not one per file of a removed tree
            self.log.error(
                "delete refused in %s: %s; kept at the destination until a reconcile allows it",
                self.root,
                reason,
            )

    def _absent(self, work: Batch, task: Task) -> None:
        had = task.key in work.records or task.mode is Mode.DELETE
        if self.delete and had and (reason := self.guard.delete()) is not None:
            self._refuse_delete(task, reason)
            return
        if self.delete:
            self.dest.delete(task.key)
            self.health.succeeded(started=work.started)
            if had:
                self.report.deleted()
                self.log.info("delete %s", shown(task.key))
                if self.observer is not None:
                    self.observer(Change("delete", task.key, time.time()))
        work.done.append((task, None, None))

    def _present(self, work: Batch, task: Task, path: str, st: os.stat_result) -> None:
        key = task.key
        rec = work.records.get(key)
        if task.mode not in (Mode.FORCE, Mode.ADOPT) and rec is not None and rec.same_stat(st):
            work.done.append((task, rec, None))
            self.report.unchanged()
            return
        if task.moved_from is not None and self._rename(work, task, st):
            return
        if rec is None and task.seqs:
            self.guard.added()  # a live change grew the destination (not the reconcile's)
        try:
            if self._kept(work, task, path, st, rec):
                return
            with SourceFile(path) as source:
                if work.stage is not None:
                    staged = work.stage.stage(key, source)
                    work.staged.append(StagedCopy(task, staged, source.stat, source.sha256))
                    return
                info = self.dest.put(key, source)
                self.health.succeeded(started=work.started)
                work.done.append((task, make_record(key, source.stat, source.sha256, info), None))
                work.copied(task, source.stat)
        except (FileNotFoundError, NotADirectoryError, NotRegularFileError):
            self._absent(work, task)
            return
        except SourceChangedError:
            raise
        except OSError as exc:
            if classify_oserror(exc) is OSErrorKind.SYSTEM:
                raise
            self._failed(task, "read", cause_of(exc))
            return
        self.report.copied(1, info.size)
        self.log.info("put %s (%d bytes)", shown(key), info.size)
        if self.observer is not None:
            self.observer(put_change(key, info.size, source.stat.st_mtime_ns))

    def _link(self, work: Batch, task: Task, path: str, st: os.stat_result) -> None:
        """Copy the symlink at `path` as a symlink: its target text, never what it points to."""
        try:
            target = os.readlink(path)
        except FileNotFoundError:
            self._absent(work, task)
            return
        except OSError as exc:
            if classify_oserror(exc) is OSErrorKind.SYSTEM:
                raise
            self._failed(task, "read", cause_of(exc))
            return
        links = self.features.links
        assert links is not None  # the Replicator refuses --links without the capability
        links.put_link(task.key, target, mtime_ns=st.st_mtime_ns)
        self.health.succeeded(started=work.started)
        work.done.append((task, None, None))  # a link has no state record: its text is compared
        self.report.copied()
        self.log.info("link %s -> %s", task.key, target)

    def _kept(
        self, work: Batch, task: Task, path: str, st: os.stat_result, rec: FileRecord | None
    ) -> bool:
        """True when the destination already has this content (checked by hash)."""
        if task.mode is Mode.ADOPT and task.dest_info is not None:
            return self._adopt(work, task, path, task.dest_info)
        if task.mode is not Mode.FORCE and rec is not None and rec.size == st.st_size:
            return self._same_content(work, task, path, rec)
        return False

    def _hash(self, path: str) -> tuple[str, os.stat_result]:
        with SourceFile(path) as source:
            for _ in source.chunks():
                pass
            source.check_unchanged()
            assert source.sha256 is not None
            return source.sha256, source.stat

    def _same_content(self, work: Batch, task: Task, path: str, rec: FileRecord) -> bool:
        """A touched or chmod-ed file: if its content is unchanged, update metadata only."""
        if rec.sha256 is None:
            return False
        sha256, st = self._hash(path)
        if sha256 != rec.sha256:
            return False
        dest_mtime = rec.dest_mtime_ns
        mode = st.st_mode & 0o7777
        set_metadata = self.features.set_metadata
        if (st.st_mtime_ns != rec.mtime_ns or mode != rec.mode) and set_metadata is not None:
            info = set_metadata(task.key, mtime_ns=st.st_mtime_ns, mode=mode)
            dest_mtime = info.mtime_ns
            self.health.succeeded(started=work.started)
        work.done.append((task, make_record(task.key, st, sha256, None, dest_mtime), None))
        self.report.metadata_updated()
        return True

    def _adopt(self, work: Batch, task: Task, path: str, info: ObjectInfo) -> bool:
        """An object with the same size and mtime is at the destination: keep it if identical."""
        if info.sha256 is None and self.features.quick_list is not None:
            try:
                info = self.dest.stat(task.key)  # the quick listing left the hash out
            except FileNotFoundError:
                return False
        sha256, st = self._hash(path)
        if info.sha256 is not None and info.sha256 != sha256:
            return False
        if st.st_size != info.size or st.st_mtime_ns != info.mtime_ns:
            return False
        work.done.append((task, make_record(task.key, st, sha256, info), None))
        self.report.unchanged()
        return True

    def _rename(self, work: Batch, task: Task, st: os.stat_result) -> bool:
        """Rename at the destination when it still holds exactly the old file."""
        old = task.moved_from
        assert old is not None
        orec = self.state.get(old)
        rename = self.features.rename
        if rename is None or orec is None:
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
            info = rename(old, task.key)
        except FileNotFoundError:
            return False
        self.health.succeeded(started=work.started)
        work.done.append((task, make_record(task.key, st, orec.sha256, info), old))
        self.report.renamed()
        self.log.info("rename %s -> %s", shown(old), shown(task.key))
        if self.observer is not None:
            self.observer(Change("rename", task.key, time.time(), detail=old))
        return True


def _discard(work: Batch, items: list[StagedCopy]) -> None:
    """Drop staged copies that will not be published."""
    if work.stage is not None:
        for item in items:
            work.stage.discard(item.staged)
