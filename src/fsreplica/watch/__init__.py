"""Watch backends and the public Watcher; the backend is chosen when watching starts."""

from fsreplica.watch.stats import WatcherStats
from fsreplica.watch.watcher import Watcher

__all__ = ["Watcher", "WatcherStats"]
