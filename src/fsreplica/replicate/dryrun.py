"""A dry run: the plan a reconcile would make, with nothing created, written or cached.

A `Replicator` opens (and creates) its state file and records what it learns; a dry run reads the
state only when it exists (a pair never synced has no records) and looks at the destination
through one opened for looking only (see `cli._replication.open_to_look`).
"""

from __future__ import annotations

import os

from fsreplica.destinations import Destination, ObjectInfo, features_of
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.checksum import by_content
from fsreplica.replicate.guard import DeleteGuard
from fsreplica.replicate.reconcile import Plan, make_plan, walk_source
from fsreplica.replicate.state import FileRecord, State


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
    tree = walk_source(source, rules, links=links, defaults=defaults)
    features = features_of(destination)
    if links and features.links is not None:
        entries = features.links.quick_list(links=True)
    elif features.quick_list is not None:
        entries = features.quick_list()
    else:
        entries = destination.list()
    listing: dict[str, ObjectInfo] = {info.key: info for info in entries}
    dest_links = None
    if links:
        dest_links = {k: i.link for k, i in listing.items() if i.link is not None}
        for key in dest_links:
            del listing[key]
    records: dict[str, FileRecord] = {}
    known_dev = None
    if os.path.exists(state):
        with State(state, readonly=True) as db:
            records = db.all_files()
            known_dev = db.get_meta("source_dev")
    plan = make_plan(
        tree,
        listing,
        records,
        rules=rules,
        delete=delete,
        max_delete=max_delete,
        dest_links=dest_links,
    )
    if checksum:
        by_content(plan, source, tree.files, listing, destination)
    # As Replicator's device check, without recording the device.
    dev = str(os.stat(source).st_dev)
    guard = DeleteGuard(source, max_delete=max_delete)
    if plan.deletes and (refused := guard.moved(recorded=known_dev, device=dev)):
        plan.refused = refused
        plan.deletes = []
    return plan
