"""A dry run: the plan a reconcile would make, with nothing created, written or cached.

A `Replicator` opens (and creates) its state file and records what it learns; a dry run reads the
state only when it exists (a pair never synced has no records) and looks at the destination
through one opened for looking only (see `cli._replication.open_to_look`).
"""

from __future__ import annotations

import contextlib
import os

from fsreplica.destinations import Destination, ObjectInfo, features_of
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.checksum import by_content
from fsreplica.replicate.guard import DeleteGuard
from fsreplica.replicate.march import Check, Plan, march
from fsreplica.replicate.reconcile import SourceTree, listing_of, scan_source, source_has
from fsreplica.replicate.state import State


def dry_plan(
    source: str,
    destination: Destination,
    *,
    state: str | os.PathLike[str],
    rules: IgnoreRules,
    defaults: IgnoreRules | None = None,
    links: bool = False,
    delete: bool = True,
    max_delete: int | None = None,
    checksum: bool = False,
) -> Plan:
    """Return what a reconcile of `source` to `destination` would do, changing nothing.

    Args:
        source: The absolute source directory.
        destination: Listed only.
        state: The pair's state file; read (never created) when it exists.
        rules: Every ignore pattern.
        defaults: The default patterns among them, to count what they leave out.
        links: Symlinks are copied as symlinks.
        delete: Keys only at the destination would be deleted.
        max_delete: As `Replicator`'s.
        checksum: Compare content, as `Replicator`'s (reading both sides).

    Raises:
        ReconcileError: The source is missing or unreadable.
        StateError: The state file exists but cannot be read.
    """
    check: Check | None = None
    if checksum:

        def check(
            part: Plan, files: dict[str, os.stat_result], found: dict[str, ObjectInfo]
        ) -> None:
            by_content(part, source, files, found, destination)

    tree = SourceTree()
    listing = listing_of(destination, features_of(destination), links=links)
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(State(state, readonly=True)) if os.path.exists(state) else None
        plan = march(
            scan_source(source, rules, tree=tree, links=links, defaults=defaults),
            listing,
            () if db is None else db.iter_files(),
            tree=tree,
            rules=rules,
            delete=delete,
            max_delete=max_delete,
            present=source_has(source, links=links),
            links=links,
            check=check,
        )
        known_dev = None if db is None else db.get_meta("source_dev")
    # As Replicator's device check, without recording the device.
    dev = str(os.stat(source).st_dev)
    guard = DeleteGuard(source, max_delete=max_delete)
    if plan.deletes and (refused := guard.moved(recorded=known_dev, device=dev)):
        plan.refused = refused
        plan.deletes = []
    return plan
