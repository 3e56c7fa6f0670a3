"""What a restore will fetch: the objects of the store (now or at a time), chosen and checked.

A plan is made from the listing alone, before anything is written: keys outside the selection
(`--prefix`, `--include`, `--exclude`) are left out, keys that cannot be restored safely are
refused with their reason (see `safety`), and the rest are items to fetch, in key order. An
empty object whose key is also a directory of other keys is the "folder" marker some tools
write (`photos/`): it is left out quietly. What is already in the target is looked at later,
by each worker (see `compare`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fsreplica.destinations import Destination, Features, ObjectInfo
from fsreplica.destinations._base import SupportsVersions
from fsreplica.filters import IgnoreRules
from fsreplica.restore.safety import collisions, refusal


@dataclass(frozen=True, slots=True)
class Item:
    """One object to restore.

    Attributes:
        key: Its key, which is also its path below the target.
        info: What the listing said of it; None when the listing carries no metadata (a
            listing of versions, or of keys only): it is looked up, or read with the content.
        version: The version to fetch (`--at`), or None for the current one.
        size: Its size, when `info` is None.
    """

    key: str
    info: ObjectInfo | None
    version: str | None = None
    size: int = 0


@dataclass(slots=True)
class Plan:
    """The items to fetch and the keys refused, each list in key order.

    Attributes:
        items: What to restore.
        refused: (key, reason) of keys that cannot be restored safely.
        excluded: Keys left out by the selection.
    """

    items: list[Item] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0


def _order(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


class Selection:
    """Which keys a partial restore takes: `--include` and `--exclude` globs, as sync's filters.

    A pattern without '/' matches any component of a key (so `docs` takes or leaves a whole
    directory); one with '/' matches the whole key. With includes, a key must match one of
    them; a key that matches an exclude is left out either way.

    Args:
        include: Globs of keys to take (none: every key).
        exclude: Globs of keys to leave out.
    """

    def __init__(self, *, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        include, exclude = tuple(include), tuple(exclude)
        self._include = IgnoreRules(include) if include else None
        self._exclude = IgnoreRules(exclude) if exclude else None

    def __call__(self, key: str) -> bool:
        """True when `key` is restored."""
        if self._include is not None and not self._include.key(key):
            return False
        return self._exclude is None or not self._exclude.key(key)


def current_items(
    destination: Destination, features: Features, *, prefix: str, links: bool
) -> Iterator[Item]:
    """The objects stored now (and, with `links`, the symlinks a local destination keeps).

    From a destination with the "fetch" capability, keys only: each object's metadata comes with
    its content (one request each, where `list` would look each one up first).

    Raises:
        DestinationError: The listing failed.
    """
    if features.fetch is not None:
        for key, size in features.fetch.list_keys(prefix):
            yield Item(key, None, size=size)
    else:
        for info in destination.list(prefix):
            yield Item(info.key, info)
    if links and features.links is not None:
        for info in features.links.quick_list(prefix, links=True):
            if info.link is not None:
                yield Item(info.key, info)


def items_at(versions: SupportsVersions, *, prefix: str, at_ns: int) -> Iterator[Item]:
    """Each key as it was at `at_ns` (its newest version made then or before).

    A key whose newest such version is a deletion, or that had none yet, is left out.

    Raises:
        DestinationError: The listing failed.
    """
    chosen: dict[str, tuple[str, bool]] = {}
    for version in versions.list_versions(prefix):
        # Each key's versions come newest first: the first one made by then is the one.
        if version.modified_ns <= at_ns and version.key not in chosen:
            chosen[version.key] = (version.version, version.deleted)
    for key, (version_id, deleted) in chosen.items():
        if not deleted:
            yield Item(key, None, version_id)  # (its size is not needed)


def make_plan(items: Iterable[Item], *, select: Selection) -> Plan:
    """Choose, check and order `items` (see the module docstring)."""
    plan = Plan()
    chosen: dict[str, Item] = {}
    for item in items:
        if not select(item.key):
            plan.excluded += 1
            continue
        reason = refusal(item.key)
        if reason is not None:
            plan.refused.append((item.key, reason))
        else:
            chosen[item.key] = item
    for key in collisions(chosen):
        item = chosen.pop(key)
        if (item.size if item.info is None else item.info.size) == 0 and item.version is None:
            continue  # an empty "folder" object another tool made (`dir/`, listed as `dir`)
        plan.refused.append((key, f"both a file and a directory in the store ({key}/...)"))
    plan.items = sorted(chosen.values(), key=lambda item: _order(item.key))
    plan.refused.sort(key=lambda pair: _order(pair[0]))
    return plan
