"""Replication: the engine, the three-way reconcile, the journal and the state database."""

from fsreplica.errors import ReconcileError, StateError
from fsreplica.replicate.replicator import DEFAULT_SCAN_INTERVAL, Replicator
from fsreplica.replicate.report import Report, SyncReport
from fsreplica.replicate.state import State, default_state_path

__all__ = [
    "DEFAULT_SCAN_INTERVAL",
    "ReconcileError",
    "Replicator",
    "Report",
    "State",
    "StateError",
    "SyncReport",
    "default_state_path",
]
