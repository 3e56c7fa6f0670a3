"""The Manager: every policy of a config file, each in its runner; the daemon's `Control`.

Changes (the API's, or a reload of the file) touch only the policies they concern: a policy
that did not change keeps running undisturbed. A change asked through the API is written to the
config file first, and applied once it is on disk.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fsreplica import __version__
from fsreplica.config import WatcherConfig
from fsreplica.daemon import configfile
from fsreplica.daemon.config import (
    DaemonConfig,
    DaemonSettings,
    load_config,
    pair_of,
    policy_from_mapping,
    policy_to_mapping,
)
from fsreplica.daemon.control import (
    DaemonStatus,
    EventPage,
    Job,
    Policy,
    PolicyStatus,
)
from fsreplica.daemon.eventlog import EventLog
from fsreplica.daemon.lease import LeaseKeeper, default_owner
from fsreplica.daemon.runner import PolicyRunner
from fsreplica.daemon.standby import Leases
from fsreplica.daemon.summary import SummaryReader
from fsreplica.daemon.watchhub import HubRegistry, watcher_config
from fsreplica.errors import (
    ConfigError,
    FsreplicaError,
    InvalidPolicy,
    PolicyConflict,
    PolicyNotFound,
)

JOBS_KEPT = 1000
"""Finished jobs remembered for `job()`."""


def watch_limit() -> int | None:
    """The system's limit on inotify watches per user, or None where unknown.

    Read at most every `WATCH_LIMIT_AGE` seconds: a status call that opens a file waits for the
    GIL after each system call, behind every busy worker of every policy.
    """
    global _watch_limit  # one value for the process
    read_at, limit = _watch_limit
    now = time.monotonic()
    if now - read_at < WATCH_LIMIT_AGE:
        return limit
    try:
        with open("/proc/sys/fs/inotify/max_user_watches", encoding="ascii") as file:
            limit = int(file.read())
    except (OSError, ValueError):
        limit = None
    _watch_limit = (now, limit)
    return limit


WATCH_LIMIT_AGE = 5.0
"""Seconds the inotify watch limit read by `watch_limit()` is reused."""
_watch_limit: tuple[float, int | None] = (float("-inf"), None)


class Manager:
    """Runs the policies of a config file; implements `fsreplica.daemon.control.Control`.

    Args:
        config: The config file's path, or a config already read from it.
        events: The event log (a new one by default).
        logger: Where the daemon logs its own lines.

    Raises:
        FileNotFoundError: The config file does not exist.
        ConfigError: Something in it is wrong.
    """

    def __init__(
        self,
        config: str | DaemonConfig,
        *,
        events: EventLog | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._config = load_config(config) if isinstance(config, str) else config
        self.path = self._config.path
        self._events_log = events or EventLog()
        self.log = logger or logging.getLogger("fsreplica")
        self.started = time.time()
        self._policies: list[Policy] = list(self._config.policies)
        self._runners: dict[str, PolicyRunner] = {}
        self._lock = threading.Lock()  # the structures above, held briefly
        self._changing = threading.RLock()  # one change at a time: file, then runners
        self._hubs = HubRegistry(logger=self.log)  # one watcher per source
        self._summaries = SummaryReader()  # reads what status finds stale, off its path
        self._leases = Leases(
            owner=default_owner(self.path),
            ttl=self._config.settings.lease_ttl,
            keeper=LeaseKeeper(),
        )
        self._jobs: dict[str, Job] = {}
        self._job_ids = itertools.count(1)
        self._job_threads: list[threading.Thread] = []
        self._closed = False

    @property
    def settings(self) -> DaemonSettings:
        """The `[daemon]` table as last read."""
        return self._config.settings

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every enabled policy."""
        with self._changing:
            with self._lock:  # the API listens already: it may have started some
                waiting = [p for p in self._policies if p.enabled and p.id not in self._runners]
            self._prepare_hubs(waiting)
            for policy in waiting:
                self._start(policy)

    def _prepare_hubs(self, policies: Sequence[Policy]) -> None:
        """Start the shared watchers of these policies' sources, before the policies."""
        by_source: dict[str, list[WatcherConfig]] = {}
        for policy in policies:
            if policy.enabled:
                by_source.setdefault(policy.source, []).append(watcher_config(policy))
        for source, configs in by_source.items():
            self._hubs.prepare(source, configs)

    def close(self) -> None:
        """Stop every policy (in-flight copies finish) and every job; idempotent."""
        with self._changing:
            self._closed = True
            with self._lock:
                runners = list(self._runners.values())
                self._runners.clear()
            self._stop(runners)
            self._hubs.close()
            self._leases.keeper.close()
            self._summaries.close()
            for thread in self._job_threads:
                thread.join()
            self._job_threads.clear()
        self._events_log.close()

    def __enter__(self) -> Manager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, policy: Policy) -> None:
        runner = PolicyRunner(
            policy,
            events=self._events_log,
            hubs=self._hubs,
            leases=self._leases,
            reader=self._summaries,
        )
        with self._lock:
            self._runners[policy.id] = runner
        runner.start()

    def _stop(self, runners: Sequence[PolicyRunner]) -> None:
        """Stop runners side by side (each finishes its in-flight copies), then join them."""
        for runner in runners:
            runner.stop()
        for runner in runners:
            runner.join()

    def _apply(self, old: Policy | None, new: Policy | None) -> None:
        """Bring one policy's runner from `old` to `new` (either None: absent)."""
        if old == new:
            return
        with self._lock:
            runner = self._runners.pop(old.id, None) if old is not None else None
        if runner is not None:
            self._stop([runner])
        if new is not None and new.enabled and not self._closed:
            self._start(new)

    # -- the policies ----------------------------------------------------------------------

    def policies(self) -> Sequence[Policy]:
        """Every policy in the config, enabled or not, in config order."""
        with self._lock:
            return tuple(self._policies)

    def policy(self, policy_id: str) -> Policy:
        """One policy (`PolicyNotFound` when unknown)."""
        with self._lock:
            for policy in self._policies:
                if policy.id == policy_id:
                    return policy
        raise PolicyNotFound(f"no policy {policy_id!r}", detail=policy_id)

    def _check_pair(self, policy: Policy) -> None:
        pair = pair_of(policy)
        for other in self.policies():
            if other.id != policy.id and pair_of(other) == pair:
                raise PolicyConflict(
                    f"policy {policy.id!r} has the same source and destination as "
                    f"{other.id!r} (they would share one state file)",
                    detail=other.id,
                )

    def add_policy(self, policy: Policy) -> Policy:
        """Add a new policy, write it to the config file and start it (if enabled)."""
        with self._changing:
            if any(p.id == policy.id for p in self.policies()):
                raise PolicyConflict(f"policy {policy.id!r} exists already", detail=policy.id)
            self._check_pair(policy)
            configfile.add_policy(self.path, policy)
            with self._lock:
                self._policies.append(policy)
            self._apply(None, policy)
            self._events_log.emit("policy-added", policy=policy.id)
            self.log.warning(
                "policy %s added: %s -> %s", policy.id, policy.source, policy.destination
            )
        return policy

    def replace_policy(self, policy: Policy) -> Policy:
        """Replace a policy (or add it); restart it if anything it runs with changed."""
        with self._changing:
            try:
                old = self.policy(policy.id)
            except PolicyNotFound:
                return self.add_policy(policy)
            self._check_pair(policy)
            if old == policy:
                return policy
            configfile.replace_policy(self.path, policy)
            with self._lock:
                self._policies = [policy if p.id == policy.id else p for p in self._policies]
            self._apply(old, policy)
            self._events_log.emit(
                "policy-changed", policy=policy.id, detail=_difference(old, policy)
            )
            self.log.warning("policy %s changed: %s", policy.id, _difference(old, policy))
        return policy

    def update_policy(self, policy_id: str, changes: Mapping[str, Any]) -> Policy:
        """Change some fields of a policy (e.g. {"enabled": False})."""
        with self._changing:
            old = self.policy(policy_id)
            if "id" in changes and changes["id"] != policy_id:
                raise InvalidPolicy("id: cannot be changed", detail="id")
            fields = policy_to_mapping(old)
            fields.update(changes)
            return self.replace_policy(policy_from_mapping(fields))

    def remove_policy(self, policy_id: str) -> None:
        """Stop a policy and remove it from the config file (its destination is left as is)."""
        with self._changing:
            old = self.policy(policy_id)
            configfile.remove_policy(self.path, policy_id)
            with self._lock:
                self._policies = [p for p in self._policies if p.id != policy_id]
            self._apply(old, None)
            self._events_log.emit("policy-removed", policy=policy_id)
            self.log.warning("policy %s removed", policy_id)

    def reload(self) -> Mapping[str, Sequence[str]]:
        """Re-read the config file and apply the difference: {"added": [...], ...}.

        Raises:
            InvalidPolicy: The file is wrong now (its reason is the `PATH:LINE: reason` line);
                nothing changed.
        """
        with self._changing:
            try:
                config = load_config(self.path)
            except FileNotFoundError:
                raise InvalidPolicy(f"{self.path}: no such file") from None
            except ConfigError as exc:
                raise InvalidPolicy(str(exc), detail={"line": exc.line}) from None
            old = {p.id: p for p in self.policies()}
            new = {p.id: p for p in config.policies}
            diff: dict[str, list[str]] = {
                "added": [i for i in new if i not in old],
                "removed": [i for i in old if i not in new],
                "changed": [i for i in new if i in old and new[i] != old[i]],
            }
            # Stopped side by side, then started: a policy moved to another id never runs twice.
            with self._lock:
                going = [
                    self._runners.pop(i)
                    for i in diff["removed"] + diff["changed"]
                    if i in self._runners
                ]
                self._policies = list(config.policies)
            self._stop(going)
            self._prepare_hubs([new[i] for i in diff["added"] + diff["changed"]])
            for policy_id in diff["added"] + diff["changed"]:
                policy = new[policy_id]
                if policy.enabled and not self._closed:
                    self._start(policy)
            for kind, ids in (
                ("policy-added", diff["added"]),
                ("policy-removed", diff["removed"]),
                ("policy-changed", diff["changed"]),
            ):
                for policy_id in ids:
                    self._events_log.emit(kind, policy=policy_id)  # type: ignore[arg-type]
            if config.settings != self._config.settings:
                self.log.warning(
                    "[daemon] changed in %s: restart the daemon to apply it", self.path
                )
            self._config = config
        return diff

    # -- jobs ------------------------------------------------------------------------------

    def trigger(self, policy_id: str | None = None) -> Sequence[Job]:
        """Queue a full reconcile of one policy, or of every enabled one; return the jobs."""
        with self._changing:
            if policy_id is not None:
                policy = self.policy(policy_id)
                if not policy.enabled:
                    raise PolicyConflict(f"policy {policy_id!r} is disabled", detail=policy_id)
                ids = [policy_id]
            else:
                ids = [p.id for p in self.policies() if p.enabled]
            jobs = []
            for one in ids:
                with self._lock:
                    runner = self._runners.get(one)
                if runner is None:
                    continue
                job = Job(
                    id=f"j{next(self._job_ids)}", policy=one, state="queued", queued=time.time()
                )
                self._keep(job)
                thread = threading.Thread(
                    target=self._run_job, args=(job, runner), name=f"fsreplica-job-{job.id}"
                )
                self._job_threads = [t for t in self._job_threads if t.is_alive()]
                self._job_threads.append(thread)
                thread.start()
                jobs.append(job)
            return jobs

    def _keep(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > JOBS_KEPT:
                del self._jobs[next(iter(self._jobs))]

    def _run_job(self, job: Job, runner: PolicyRunner) -> None:
        import dataclasses  # noqa: PLC0415 - small, and only for jobs

        job = dataclasses.replace(job, state="running", started=time.time())
        self._keep(job)
        try:
            report = runner.resync()
        except FsreplicaError as exc:
            job = dataclasses.replace(job, state="failed", finished=time.time(), error=str(exc))
        except Exception as exc:  # a bug: the job fails, the daemon goes on
            self.log.error("job %s: %s: %s", job.id, type(exc).__name__, exc, exc_info=exc)
            job = dataclasses.replace(
                job, state="failed", finished=time.time(), error=f"{type(exc).__name__}: {exc}"
            )
        else:
            job = dataclasses.replace(
                job, state="done", finished=time.time(), result=report.summary()
            )
        self._keep(job)

    def job(self, job_id: str) -> Job:
        """A job by id (`PolicyNotFound` when unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise PolicyNotFound(f"no job {job_id!r}", detail=job_id)
        return job

    # -- status and events -----------------------------------------------------------------

    def policy_status(self, policy_id: str) -> PolicyStatus:
        """One policy's status."""
        policy = self.policy(policy_id)
        with self._lock:
            runner = self._runners.get(policy_id)
        if runner is None:
            return PolicyStatus(
                id=policy.id, state="disabled" if not policy.enabled else "starting"
            )
        return runner.status()

    def status(self) -> DaemonStatus:
        """Every policy's status."""
        with self._lock:
            policies = list(self._policies)
            runners = dict(self._runners)
        statuses = []
        for policy in policies:
            runner = runners.get(policy.id)
            if runner is None:
                state = "disabled" if not policy.enabled else "starting"
                statuses.append(PolicyStatus(id=policy.id, state=state))  # type: ignore[arg-type]
                continue
            statuses.append(runner.status())
        # A policy standing by (another daemon holds its destination) is where it should be.
        ready = all(
            s.state in ("live", "standby")
            for s, p in zip(statuses, policies, strict=True)
            if p.enabled
        )
        return DaemonStatus(
            version=__version__,
            started=self.started,
            ready=ready,
            config=self.path,
            policies=tuple(statuses),
            watches=self._hubs.watches,
            watch_limit=watch_limit(),
        )

    def events(self, since: int, *, timeout: float = 0.0, limit: int = 1000) -> EventPage:
        """Events with an id above `since`, waiting up to `timeout` seconds for the first."""
        return self.events_log.page(since, timeout=timeout, limit=limit)

    @property
    def events_log(self) -> EventLog:
        """The event log (for the metrics and the tests)."""
        return self._events_log


def _difference(old: Policy, new: Policy) -> str:
    """What changed between two versions of a policy, in one line."""
    before, after = policy_to_mapping(old), policy_to_mapping(new)
    return ", ".join(f"{k}={after[k]!r}" for k in after if after[k] != before[k]) or "nothing"
