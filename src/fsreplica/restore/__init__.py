"""Restore: fetch what a destination holds back into a local directory.

`restore(source, target, ...)` (or a `Restore` object, for progress and interruption) lists the
destination, makes a plan (`plan`), refuses every key that would not stay inside the target
(`safety`), compares each object with what the target holds (`compare`) and fetches the rest in
parallel, each file atomically (`fetch`). Its `RestoreReport` lists what failed, per key.
"""

from fsreplica.restore.compare import Action, Overwrite
from fsreplica.restore.plan import Selection
from fsreplica.restore.report import RestoreReport
from fsreplica.restore.run import DEFAULT_TRANSFERS, Restore, restore

__all__ = [
    "DEFAULT_TRANSFERS",
    "Action",
    "Overwrite",
    "Restore",
    "RestoreReport",
    "Selection",
    "restore",
]
