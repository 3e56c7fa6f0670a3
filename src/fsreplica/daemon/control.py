"""The daemon's control surface: what the API, the CLI clients and the metrics see of it.

The manager implements `Control`; the HTTP API, the dashboard and the Prometheus collector use
only this surface (never the manager's parts), so each can be built and tested on its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from fsreplica.config import DEFAULT_DEBOUNCE_DELAY

DEFAULT_POLICY_SCAN_INTERVAL = 3600.0
"""Seconds between full reconciles of a policy that sets no `scan_interval`."""

POLICY_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
"""What a policy id looks like (it names files, URLs and metric labels)."""

PolicyState = Literal[
    "starting",
    "reconciling",
    "live",
    "catching-up",
    "destination-down",
    "source-gone",
    "deletes-refused",
    "standby",
    "disabled",
    "failed",
]
"""Where a policy is; a dashboard shows each state in words, not only in colour.

"standby": another daemon holds the destination's lease; this one takes over when it expires.
"""

EventKind = Literal[
    "put",
    "delete",
    "rename",
    "failed",
    "refused",
    "reconciled",
    "state",
    "policy-added",
    "policy-removed",
    "policy-changed",
]
"""What an `Event` reports."""

JobState = Literal["queued", "running", "done", "failed"]
PolicyMode = Literal["opaque", "transparent"]
"""How a policy copies: bytes as they are, or encrypted for the destination."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Policy:
    """One SRC/DEST pair the daemon replicates, as the config file and the API spell it.

    Attributes:
        id: Its name, matching `POLICY_ID`.
        source: The local directory to replicate (absolute).
        destination: Any URL or path `open_destination` takes.
        enabled: Replicated when true; kept in the config but idle when false.
        scan_interval: Seconds between full reconciles (the safety net).
        exclude: Glob patterns ignored on top of the defaults.
        debounce: Coalescing window of the watcher, in seconds.
        transfers: Parallel copies; None: the destination's default, as for `replicate` (2 to
            a local directory, 4 to object storage).
        delete: Propagate deletions.
        max_delete: Deletions a reconcile may do (None: the default guard; -1: no limit).
        links: Copy symlinks as symlinks (local destinations).
        checksum: Compare content at each reconcile.
        state: The state file; None for the default one of this SRC/DEST pair.
        endpoint_url: For object storage: the endpoint (emulators, S3-compatible stores).
        region: For object storage: the region.
        mode: "opaque" copies bytes as they are; "transparent" encrypts them for the
            destination (docs/encryption.md), which needs a key made by `fsreplica key init`.
        key_file: With "transparent": the key file (0600); None for `$FSREPLICA_PASSPHRASE`
            in the daemon's environment.
    """

    id: str
    source: str
    destination: str
    enabled: bool = True
    scan_interval: float = DEFAULT_POLICY_SCAN_INTERVAL
    exclude: tuple[str, ...] = ()
    debounce: float = DEFAULT_DEBOUNCE_DELAY
    transfers: int | None = None
    delete: bool = True
    max_delete: int | None = None
    links: bool = False
    checksum: bool = False
    state: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    mode: PolicyMode = "opaque"
    key_file: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Failure:
    """A path that could not be replicated, with its one-line reason."""

    path: str
    op: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyStatus:
    """How one policy is doing, now.

    Attributes:
        id: The policy.
        state: Where it is (see `PolicyState`).
        detail: One line on why, when the state is not "live" (the cause of a failure, ...).
        pending: Changes seen and not yet at the destination.
        lag: Age in seconds of the oldest pending change (0 when none).
        files: Files put since the daemon started this policy.
        bytes: Bytes put since then.
        deletes: Deletions done since then.
        failures: How many paths are failing now.
        failing: The first failing paths, with their reasons.
        last_reconcile: When the last reconcile finished (Unix time), or None.
        last_reconcile_result: Its one-line summary, or None.
        destination_up: False while the destination is unreachable.
        overflows: Times the watcher's queue overflowed (each followed by a rescan).
    """

    id: str
    state: PolicyState
    detail: str | None = None
    pending: int = 0
    lag: float = 0.0
    files: int = 0
    bytes: int = 0
    deletes: int = 0
    failures: int = 0
    failing: tuple[Failure, ...] = ()
    last_reconcile: float | None = None
    last_reconcile_result: str | None = None
    destination_up: bool = True
    overflows: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class DaemonStatus:
    """The daemon as a whole.

    Attributes:
        version: fsreplica's version.
        started: When the daemon started (Unix time).
        ready: Every enabled policy has finished its first reconcile and is live.
        config: The config file.
        policies: Every policy's status, in config order.
        watches: inotify watches the daemon holds (shared by policies with the same source).
        watch_limit: The system's limit on them (fs.inotify.max_user_watches), or None.
    """

    version: str
    started: float
    ready: bool
    config: str
    policies: tuple[PolicyStatus, ...]
    watches: int = 0
    watch_limit: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Job:
    """A sync asked for through the API; `GET /jobs/{id}` shows how it went."""

    id: str
    policy: str
    state: JobState
    queued: float
    started: float | None = None
    finished: float | None = None
    result: str | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened, numbered: ids increase by one, so a client sees a gap.

    Attributes:
        id: Its number (the first event is 1).
        time: When (Unix time).
        kind: What (see `EventKind`).
        policy: The policy concerned, if any.
        path: The path concerned (relative to the source), if any.
        detail: One line more (a reason, a summary, the old path of a rename).
        bytes: Bytes written, for a put.
        lag: Seconds from the change on disk to the destination write, for put and delete.
        duration: Seconds the reconcile took, for reconciled.
    """

    id: int
    time: float
    kind: EventKind
    policy: str | None = None
    path: str | None = None
    detail: str | None = None
    bytes: int | None = None
    lag: float | None = None
    duration: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventPage:
    """Events after a given id: `next` is the `since` for the next call; `first` the oldest kept.

    A client whose `since` is below `first - 1` lost events to the bounded buffer (a gap).
    """

    events: tuple[Event, ...]
    next: int
    first: int


class Control(Protocol):
    """What the API and the CLI clients can ask of a running daemon; thread-safe.

    Errors are `fsreplica.errors.ControlError` subclasses carrying the HTTP status they map to:
    `PolicyNotFound` (404), `PolicyConflict` (409), `InvalidPolicy` (422).
    Changes are written to the config file (atomically, 0600) before these methods return.
    """

    def policies(self) -> Sequence[Policy]:
        """Every policy in the config, enabled or not, in config order."""
        ...

    def policy(self, policy_id: str) -> Policy:
        """One policy."""
        ...

    def add_policy(self, policy: Policy) -> Policy:
        """Add a new policy and start it (if enabled); conflict if the id exists."""
        ...

    def replace_policy(self, policy: Policy) -> Policy:
        """Replace a policy (or add it) and restart it if anything it runs with changed."""
        ...

    def update_policy(self, policy_id: str, changes: Mapping[str, Any]) -> Policy:
        """Change some fields of a policy (e.g. {"enabled": False})."""
        ...

    def remove_policy(self, policy_id: str) -> None:
        """Stop a policy and remove it from the config (its destination is left as it is)."""
        ...

    def trigger(self, policy_id: str | None = None) -> Sequence[Job]:
        """Queue a full sync of one policy, or of every enabled one; returns the jobs."""
        ...

    def job(self, job_id: str) -> Job:
        """A job by id (`PolicyNotFound` when unknown)."""
        ...

    def status(self) -> DaemonStatus:
        """Every policy's status."""
        ...

    def policy_status(self, policy_id: str) -> PolicyStatus:
        """One policy's status."""
        ...

    def events(self, since: int, *, timeout: float = 0.0, limit: int = 1000) -> EventPage:
        """Events with an id above `since`, waiting up to `timeout` seconds for the first."""
        ...

    def reload(self) -> Mapping[str, Sequence[str]]:
        """Re-read the config file and apply the difference: {"added": [...], ...}."""
        ...
