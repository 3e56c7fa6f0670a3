"""fsreplica: watch a directory tree and replicate every change, in real time."""

from typing import TYPE_CHECKING, Any

from fsreplica.config import (
    DEFAULT_DEBOUNCE_DELAY,
    DEFAULT_EVENT_BUFFER,
    DEFAULT_MAX_PENDING,
    DEFAULT_WRITE_QUIET,
    WatcherConfig,
)
from fsreplica.errors import (
    ConditionFailed,
    ConfigError,
    ControlError,
    DaemonRefused,
    DaemonUnreachable,
    DestinationError,
    EncryptionKeyError,
    FsreplicaError,
    IntegrityError,
    InternalError,
    InvalidKeyError,
    InvalidPolicy,
    ListenError,
    NoDaemon,
    NotRegularFileError,
    PathError,
    PolicyConflict,
    PolicyNotFound,
    PreflightError,
    ReconcileError,
    RestoreError,
    RootLost,
    SourceChangedError,
    StateError,
    TokenError,
    WatcherError,
    WatcherStopped,
)
from fsreplica.events import FileSystemEvent, Operation
from fsreplica.filters import DEFAULT_IGNORE, IgnoreRules
from fsreplica.watch import Watcher, WatcherStats

if TYPE_CHECKING:
    from fsreplica.destinations import Destination, ObjectInfo, open_destination
    from fsreplica.replicate import Replicator, SyncReport

__version__ = "0.1.0"

# Replication pulls in SQLite and the destinations; a program that only watches should not pay
# for them in start-up time or memory, so they are imported on first use.
_LAZY = {
    "Destination": "fsreplica.destinations",
    "ObjectInfo": "fsreplica.destinations",
    "open_destination": "fsreplica.destinations",
    "Replicator": "fsreplica.replicate",
    "SyncReport": "fsreplica.replicate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fsreplica' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_DEBOUNCE_DELAY",
    "DEFAULT_EVENT_BUFFER",
    "DEFAULT_IGNORE",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_WRITE_QUIET",
    "ConditionFailed",
    "ConfigError",
    "ControlError",
    "DaemonRefused",
    "DaemonUnreachable",
    "Destination",
    "DestinationError",
    "EncryptionKeyError",
    "FileSystemEvent",
    "FsreplicaError",
    "IgnoreRules",
    "IntegrityError",
    "InternalError",
    "InvalidKeyError",
    "InvalidPolicy",
    "ListenError",
    "NoDaemon",
    "NotRegularFileError",
    "ObjectInfo",
    "Operation",
    "PathError",
    "PolicyConflict",
    "PolicyNotFound",
    "PreflightError",
    "ReconcileError",
    "Replicator",
    "RestoreError",
    "RootLost",
    "SourceChangedError",
    "StateError",
    "SyncReport",
    "TokenError",
    "Watcher",
    "WatcherConfig",
    "WatcherError",
    "WatcherStats",
    "WatcherStopped",
    "__version__",
    "open_destination",
]
