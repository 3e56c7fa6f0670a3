"""`Restore`: fetch a destination's objects back into a local directory (see `restore`)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from fsreplica._oserrors import cause_of
from fsreplica.destinations import Destination, features_of
from fsreplica.destinations._base import SupportsFetch
from fsreplica.errors import DestinationError, RestoreError
from fsreplica.restore.compare import Action, Overwrite, decide, file_sha256
from fsreplica.restore.fetch import (
    Mismatch,
    Store,
    check_in_place,
    set_metadata,
    write_file,
    write_link,
)
from fsreplica.restore.plan import Item, Plan, Selection, current_items, items_at, make_plan
from fsreplica.restore.report import RestoreReport, Tally
from fsreplica.restore.safety import MARKER, Blocked, Marker, Target, listing, sweep_temps

DEFAULT_TRANSFERS = 8
_RESTORED = (Action.CREATE, Action.REPLACE)


def _umask() -> int:
    # Read it from /proc: setting and resetting it (the only other way) races other threads.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def at_ns(when: datetime | float) -> int:
    """A time as nanoseconds since the epoch: an aware datetime, or Unix seconds."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("--at: a time without a time zone is ambiguous")
        return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    return int(when * 1_000_000_000)


class Restore:
    """One restore of `source` into `target`; `run` does it, from any thread but one at a time.

    Args:
        source: The destination to restore from (its keys are paths below `target`).
        target: The local directory; created when missing.
        prefix: Only keys that start with it (a plain string prefix; keys keep their path).
        include: Globs of keys to restore (none: all); see `plan.Selection`.
        exclude: Globs of keys to leave out.
        overwrite: What becomes of files the target already has.
        force: Restore into a target that is not empty (else `RestoreError`).
        dry_run: Decide everything, change nothing; the report lists what would be done.
        verify: Re-read each file written from the disk, and check files found in place
            against the SHA-256 the store recorded.
        transfers: Objects fetched at once.
        at: Restore each key as it was at this time (an aware datetime or Unix seconds); only
            from a destination that keeps versions.
        links: Restore the symlinks a local destination keeps (`--links`) as symlinks.
    """

    def __init__(
        self,
        source: Destination,
        target: str | os.PathLike[str],
        *,
        prefix: str = "",
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        overwrite: Overwrite = Overwrite.IF_CHANGED,
        force: bool = False,
        dry_run: bool = False,
        verify: bool = False,
        transfers: int = DEFAULT_TRANSFERS,
        at: datetime | float | None = None,
        links: bool = True,
    ) -> None:
        self.source = source
        self.target = os.path.abspath(os.fspath(target))
        self.prefix = prefix
        self.select = Selection(include=include, exclude=exclude)
        self.overwrite = Overwrite(overwrite)
        self.force = force
        self.dry_run = dry_run
        self.verify = verify
        self.transfers = max(transfers, 1)
        self.at = None if at is None else at_ns(at)
        self.links = links
        self.tally = Tally()
        self._stop = threading.Event()
        self._default_mode = 0o666 & ~_umask()
        self._dirs: dict[str, str] = {}  # directory -> a key in it, for the final flush
        self._lock = threading.Lock()

    def progress(self) -> RestoreReport:
        """The report as it is now (for a progress display)."""
        return self.tally.snapshot()

    def interrupt(self) -> None:
        """Start no more objects; those in flight finish. From any thread."""
        self._stop.set()

    @property
    def interrupted(self) -> bool:
        """True once `interrupt` was called."""
        return self._stop.is_set()

    def run(self) -> RestoreReport:
        """Restore; return what was done (failures listed per key).

        Raises:
            RestoreError: The restore cannot start (see `preflight`).
            DestinationError: The store cannot be listed.
        """
        store = self.preflight()
        resuming = os.path.lexists(os.path.join(self.target, MARKER))
        plan = self.plan(store)
        if self.dry_run:
            self._carry_out(plan, store, None)
            return self.tally.snapshot()
        try:
            os.makedirs(self.target, exist_ok=True)
            target = Target(self.target)
        except OSError as exc:
            raise RestoreError(self.target, cause_of(exc)) from exc
        with target:
            try:
                marker = Marker(target, self.source.url)
                if resuming or self.force:
                    sweep_temps(self.target)
            except Blocked as exc:
                raise RestoreError(self.target, str(exc)) from exc
            except OSError as exc:
                raise RestoreError(self.target, cause_of(exc)) from exc
            self._carry_out(plan, store, target)
            self._flush_dirs(target)
            report = self.tally.snapshot()
            refused = {key for key, _ in plan.refused}
            complete = not self.interrupted and all(key in refused for key, _ in report.failed)
            marker.finish(remove=complete)
        return report

    def preflight(self) -> Store:
        """Check the source and the target before anything is listed or written.

        Raises:
            RestoreError: The source cannot be read back or cannot go back to `at`, the target
                is not a directory, or is not empty without `force` (an interrupted restore's
                target counts as empty: it is resumed).
        """
        features = features_of(self.source)
        if features.read is None:
            raise RestoreError(self.source.url, "cannot be read back (no read capability)")
        versions = None
        if self.at is not None:
            versions = features.versions
            if versions is None:
                raise RestoreError(
                    self.source.url, "--at: this destination keeps no earlier versions"
                )
            if not versions.keeps_versions():
                raise RestoreError(
                    self.source.url, "--at: versioning is not enabled, no earlier versions kept"
                )
        try:
            st = os.stat(self.target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RestoreError(self.target, cause_of(exc)) from exc
        else:
            if not stat.S_ISDIR(st.st_mode):
                raise RestoreError(self.target, "not a directory")
            resuming = os.path.lexists(os.path.join(self.target, MARKER))
            if not (self.force or resuming) and listing(self.target):
                raise RestoreError(self.target, "not empty (--force to restore into it)")
        return Store(features.read, self.source.stat, versions, features.fetch)

    def plan(self, store: Store) -> Plan:
        """List the store and make the plan; refused keys are counted as failures."""
        if store.versions is not None and self.at is not None:
            items = items_at(store.versions, prefix=self.prefix, at_ns=self.at)
        else:
            features = features_of(self.source)
            items = current_items(self.source, features, prefix=self.prefix, links=self.links)
        plan = make_plan(items, select=self.select)
        for key, reason in plan.refused:
            self.tally.fail(key, reason)
        self.tally.expect(len(plan.items) + len(plan.refused), excluded=plan.excluded)
        return plan

    def _carry_out(self, plan: Plan, store: Store, target: Target | None) -> None:
        look = target or _maybe_target(self.target)
        try:
            with ThreadPoolExecutor(self.transfers, thread_name_prefix="fsreplica-restore") as pool:
                futures = [pool.submit(self._one, item, store, look) for item in plan.items]
            for future in futures:
                future.result()  # a bug in a worker is raised here, not lost
        finally:
            if target is None and look is not None:
                look.close()

    def _one(self, item: Item, store: Store, target: Target | None) -> None:
        if self._stop.is_set():
            return
        key = item.key
        try:
            self._put(item, store, target)
        except Blocked as exc:
            self.tally.fail(key, str(exc))
        except Mismatch as exc:
            self.tally.fail(key, str(exc))
        except DestinationError as exc:
            self.tally.fail(key, exc.reason)
        except FileNotFoundError as exc:
            # A store's "no such object" has no strerror; the target's ENOENT has one.
            gone = "not in the store (deleted since it was listed?)"
            self.tally.fail(key, gone if exc.strerror is None else cause_of(exc))
        except OSError as exc:
            self.tally.fail(key, cause_of(exc))

    def _put(self, item: Item, store: Store, target: Target | None) -> None:
        key = item.key
        dir_fd = None if target is None else target.parent(key, create=not self.dry_run)
        try:
            name = key.rpartition("/")[2]
            there = None if dir_fd is None else _lstat(name, dir_fd)
            fetch = store.fetchable(item)
            if there is None and fetch is not None:
                self._create(key, name, dir_fd, fetch)  # nothing to compare: read it all at once
                return
            info = store.info(item)
            mode = self._default_mode if info.mode is None else info.mode
            action = decide(
                info,
                there,
                overwrite=self.overwrite,
                sha256=lambda: file_sha256(_fd(dir_fd), name),
                link_text=lambda: os.readlink(name, dir_fd=dir_fd),
                default_mode=mode,
            )
            if self.dry_run:
                self.tally.plan(action, key)
                return
            assert dir_fd is not None
            verified = False
            if action in _RESTORED:
                if info.link is not None:
                    write_link(dir_fd, name, info)
                else:
                    chunks = store.chunks(item)
                    verified = write_file(dir_fd, name, info, chunks, mode=mode, verify=self.verify)
            elif action is Action.METADATA:
                set_metadata(dir_fd, name, info, mode=mode)
            if self.verify and action in (Action.METADATA, Action.UNCHANGED) and info.link is None:
                check_in_place(dir_fd, name, info)
                verified = info.sha256 is not None
            if action in (*_RESTORED, Action.METADATA):
                with self._lock:
                    self._dirs.setdefault(key.rpartition("/")[0], key)
            size = info.size if action in _RESTORED else 0
            self.tally.count(action, size=size, verified=verified)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)

    def _create(self, key: str, name: str, dir_fd: int | None, fetch: SupportsFetch) -> None:
        """Fetch `key` (its content and metadata in one request) to a place nothing holds."""
        if self.dry_run:
            self.tally.plan(Action.CREATE, key)
            return
        assert dir_fd is not None
        info, chunks = fetch.fetch(key)
        mode = self._default_mode if info.mode is None else info.mode
        verified = write_file(dir_fd, name, info, chunks, mode=mode, verify=self.verify)
        with self._lock:
            self._dirs.setdefault(key.rpartition("/")[0], key)
        self.tally.count(Action.CREATE, size=info.size, verified=verified)

    def _flush_dirs(self, target: Target) -> None:
        """Flush each directory a file was renamed into, so that the renames are durable."""
        for key in self._dirs.values():
            try:
                fd = target.parent(key, create=False)
            except (Blocked, OSError):
                continue
            if fd is not None:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def _fd(fd: int | None) -> int:
    assert fd is not None
    return fd


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _maybe_target(path: str) -> Target | None:
    """The target opened to look at it (a dry run), or None when it does not exist yet."""
    try:
        return Target(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RestoreError(path, cause_of(exc)) from exc


def restore(
    source: Destination,
    target: str | os.PathLike[str],
    *,
    prefix: str = "",
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    overwrite: Overwrite = Overwrite.IF_CHANGED,
    force: bool = False,
    dry_run: bool = False,
    verify: bool = False,
    transfers: int = DEFAULT_TRANSFERS,
    at: datetime | float | None = None,
    links: bool = True,
) -> RestoreReport:
    """Restore `source` into the local directory `target`; the options are `Restore`'s.

    Raises:
        RestoreError: The restore cannot start.
        DestinationError: The store cannot be listed.
    """
    job = Restore(
        source,
        target,
        prefix=prefix,
        include=include,
        exclude=exclude,
        overwrite=overwrite,
        force=force,
        dry_run=dry_run,
        verify=verify,
        transfers=transfers,
        at=at,
        links=links,
    )
    return job.run()
