"""fsreplica: watch a directory tree and replicate every change, in real time."""

from fsreplica.config import (
    DEFAULT_DEBOUNCE_DELAY,
    DEFAULT_EVENT_BUFFER,
    DEFAULT_MAX_PENDING,
    DEFAULT_WRITE_QUIET,
    WatcherConfig,
)
from fsreplica.destinations import Destination, ObjectInfo, open_destination
from fsreplica.errors import DestinationError, FsreplicaError, WatcherError, WatcherStopped
from fsreplica.events import FileSystemEvent, Operation
from fsreplica.filters import DEFAULT_IGNORE, IgnoreRules
from fsreplica.replicate import Replicator, SyncReport
from fsreplica.watch import Watcher, WatcherStats

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DEBOUNCE_DELAY",
    "DEFAULT_EVENT_BUFFER",
    "DEFAULT_IGNORE",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_WRITE_QUIET",
    "Destination",
    "DestinationError",
    "FileSystemEvent",
    "FsreplicaError",
    "IgnoreRules",
    "ObjectInfo",
    "Operation",
    "Replicator",
    "SyncReport",
    "Watcher",
    "WatcherConfig",
    "WatcherError",
    "WatcherStats",
    "WatcherStopped",
    "__version__",
    "open_destination",
]
