"""The contract every destination implements, and what it returns.

A destination stores regular files under keys ('/'-separated paths relative to its root or
prefix). The required part is small: put a file, delete, stat, list, close. Renames, copies,
metadata updates and reads are optional capabilities a destination offers by implementing
`rename` / `copy` / `set_metadata` / `read` / `quick_list` / `stage` / `sweep` / `put_link` /
`put_if` / `list_versions` / `fetch`. They
are found once, by `features_of`, as typed fields of a `Features` (a bound method, or None), as
rclone's optional features are: callers use those fields, so mypy checks every call that only some
destinations support, and a misspelt name cannot silently choose the slow path.
`conditional` (compare-and-swap of one small object) is what a lease is taken with, so that
daemons on several hosts never write one destination at once.
`quick_list` and `stage` are for speed only: `quick_list` skips per-object hash lookups, and
`stage` splits a put in two so that a batch of files is made durable with one flush (group
commit). `sweep` removes what interrupted puts left behind, `put_link` stores symlinks as
symlinks, `list_versions` / `read_version` reach the earlier versions a store keeps (for
`restore --at`), and `list_keys` / `fetch` read a store whose listing carries no metadata with one
request per object (for `restore`).

Keys are validated by every destination with `check_key` (shared here so all destinations refuse
the same keys): no empty key, no leading '/', no empty, '.' or '..' component, no NUL, and nothing
`os.fsencode` cannot turn back into a file name. A key is a name as `os.fsdecode` gives it, so bytes
that are not UTF-8 are lone surrogates; a destination that cannot store such a name as it is maps it
to a form it can store and back (S3: `fsreplica._names.to_key`), so `list` gives the same key.

A destination is used from several worker threads at once, but never for the same key at the same
time (the replication engine serialises per key). Its methods must therefore be thread-safe for
distinct keys. The shared conformance suite in `tests/contract/` checks all of this for every
destination; see `tests/contract/conftest.py` for how a destination registers itself there.

Every method documents its errors: a missing object is `FileNotFoundError`; anything else is a
`DestinationError` whose `retryable` says whether trying again may help. Messages never contain
secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from fsreplica.errors import DestinationError, InvalidKeyError

LEASE_KEY = ".fsreplica-lease"
"""The key of the lease object (see `SupportsConditional`): every destination leaves it out of
its listings, as a local destination does its temporary files, so a reconcile never deletes it
and `verify` and `status` never show it."""

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fsreplica.destinations._source import SourceFile


def check_key(key: str, *, op: str = "put") -> list[str]:
    """Return the '/'-separated components of `key`, or raise InvalidKeyError.

    Args:
        key: The key to check.
        op: The operation, for the error message.

    Raises:
        InvalidKeyError: Empty, absolute, with an empty, '.' or '..' component, a NUL byte, or
            a surrogate that no file name decodes to.
    """
    if not key or key[0] == "/" or "\0" in key:
        raise InvalidKeyError(op, key)
    if not key.isascii():
        try:
            os.fsencode(key)
        except UnicodeEncodeError:
            raise InvalidKeyError(op, key) from None
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKeyError(op, key)
    return parts


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a destination knows about one stored file.

    Attributes:
        key: The key ('/'-separated, relative).
        size: Size in bytes.
        mtime_ns: The source file's modification time, as recorded when it was stored.
        mode: The source file's permission bits (`st_mode & 0o7777`), or None if not recorded.
        sha256: Hex SHA-256 of the content, or None if the destination cannot tell cheaply.
        link: For a symlink (listed only by a destination with the "put_link" capability, when
            asked), its target text; None for a regular file.
    """

    key: str
    size: int
    mtime_ns: int
    mode: int | None = None
    sha256: str | None = None
    link: str | None = None


@runtime_checkable
class Destination(Protocol):
    """Where files are replicated to.

    Attributes:
        url: A display form of the destination, without secrets (`/backup`, `s3://bucket/prefix`).
    """

    url: str

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Store the content of `source` under `key`, atomically.

        Readers of the destination see the old object or the new one, never a partial one. The
        source must not change while it is read: `source.check_unchanged()` is called after the
        last byte is read and before the object is published.

        Raises:
            SourceChangedError: The source changed while it was being read; nothing was published.
            DestinationError: The write failed (full disk, access denied, network).
        """
        ...

    def delete(self, key: str) -> None:
        """Remove `key`. A key that does not exist is not an error.

        Raises:
            DestinationError: The removal failed.
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Return what is stored under `key`.

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The lookup failed.
        """
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every stored object whose key starts with `prefix`.

        In key order (by `str` comparison) if the destination can: a reconcile then compares
        the listing with the source in a stream. Any order is correct; a key that comes out of
        order costs the reconcile a look at the source, and at most one copy more.

        Raises:
            DestinationError: The listing failed.
        """
        ...

    def close(self) -> None:
        """Release connections and handles; idempotent."""
        ...


@runtime_checkable
class SupportsRename(Protocol):
    """The optional "rename" capability: move an object without sending its content again."""

    def rename(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Move `src_key` to `dst_key`, replacing what is there.

        Raises:
            FileNotFoundError: `src_key` does not exist.
            DestinationError: The move failed.
        """
        ...


@runtime_checkable
class SupportsCopy(Protocol):
    """The optional "copy" capability: duplicate an object inside the destination."""

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy `src_key` to `dst_key`, replacing what is there.

        Raises:
            FileNotFoundError: `src_key` does not exist.
            DestinationError: The copy failed.
        """
        ...


@runtime_checkable
class SupportsSetMetadata(Protocol):
    """The optional "set_metadata" capability: change mtime and mode without sending content.

    Used when a source file was touched or chmod-ed but its content (hash) is unchanged.
    """

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Record `mtime_ns` (and `mode` unless None) for `key`; return the new info.

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The update failed.
        """
        ...


@runtime_checkable
class SupportsRead(Protocol):
    """The optional "read" capability: stream an object's content (used by `verify`)."""

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key` in chunks.

        Raises:
            FileNotFoundError: `key` does not exist (raised by the first `next()`).
            DestinationError: The read failed.
        """
        ...


@runtime_checkable
class SupportsQuickList(Protocol):
    """The optional "quick_list" capability: `list` without per-object hash lookups."""

    def quick_list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Like `list`, but `sha256` may be None even when `stat` would report it.

        Raises:
            DestinationError: The listing failed.
        """
        ...


class Staged(Protocol):
    """A put written but not yet published (see `SupportsStage`)."""

    key: str


@runtime_checkable
class SupportsStage(Protocol):
    """The optional "stage" capability: a put in two steps, so that one flush covers many files.

    `stage` reads the source and writes its content where readers cannot see it; `publish` makes
    a batch of staged puts durable together (one flush for all of them) and then visible, each
    atomically, as `put` would. Every staged put must be published or discarded.
    """

    def stage(self, key: str, source: SourceFile) -> Staged:
        """Write `source` for `key` without publishing it; same errors as `put`."""
        ...

    def publish(self, staged: list[Staged]) -> list[ObjectInfo | DestinationError]:
        """Make `staged` durable, then visible; one result per item, in order.

        A failed item is discarded; the others are still published.
        """
        ...

    def discard(self, staged: Staged) -> None:
        """Drop a staged put that will not be published; never raises."""
        ...


@runtime_checkable
class SupportsSweep(Protocol):
    """The optional "sweep" capability: remove what interrupted puts left behind.

    Listings never change anything (a `verify` or a dry run must not); the replicator calls
    `sweep` after the listing of a reconcile instead. It must never remove a put in flight, of
    this process or of another one.
    """

    def sweep(self, *, source: str | None = None) -> int:
        """Remove leftovers of interrupted puts that are provably abandoned; return how many.

        Args:
            source: The source root, for a destination that also mirrors directory modes.
        """
        ...


@runtime_checkable
class SupportsLinks(Protocol):
    """The optional "put_link" capability: store symlinks as symlinks (`--links`)."""

    def put_link(self, key: str, target: str, *, mtime_ns: int | None = None) -> ObjectInfo:
        """Make `key` a symlink to the text `target`, replacing what is there, never following.

        Raises:
            DestinationError: The link cannot be made.
        """
        ...

    def quick_list(self, prefix: str = "", *, links: bool = False) -> Iterator[ObjectInfo]:
        """List objects, and with `links` symlinks too (their `link` set).

        Raises:
            DestinationError: The listing failed.
        """
        ...


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of a key in a store that keeps versions (see `SupportsVersions`).

    Attributes:
        key: The key, as `list` names it.
        version: The store's identifier of this version (opaque).
        modified_ns: When the store made this version (its clock, not the source file's mtime).
        size: Size in bytes (0 for a deletion).
        deleted: True for a deletion (S3's delete marker): the key did not exist from then on.
    """

    key: str
    version: str
    modified_ns: int
    size: int = 0
    deleted: bool = False


@runtime_checkable
class SupportsVersions(Protocol):
    """The optional "versions" capability: earlier versions of each key (S3 versioned buckets).

    `keeps_versions` says whether the store keeps them at all (a bucket with versioning never
    enabled has only the current one): a caller asking for the past refuses when it does not.
    """

    def keeps_versions(self) -> bool:
        """True when the store keeps earlier versions of overwritten and deleted keys.

        Raises:
            DestinationError: The store cannot be asked.
        """
        ...

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Yield every version (deletions too) of every key that starts with `prefix`.

        Each key's versions come together, newest first (the store's order decides between
        versions made at the same time); the keys in any order.

        Raises:
            DestinationError: The listing failed.
        """
        ...

    def stat_version(self, key: str, version: str) -> ObjectInfo:
        """Return what is stored in `version` of `key` (mtime, mode, sha256 as `stat` does).

        Raises:
            FileNotFoundError: No such version.
            DestinationError: The lookup failed.
        """
        ...

    def read_version(self, key: str, version: str) -> Iterator[bytes]:
        """Yield the content of `version` of `key` in chunks.

        Raises:
            FileNotFoundError: No such version (raised by the first `next()`).
            DestinationError: The read failed.
        """
        ...


@runtime_checkable
class SupportsFetch(Protocol):
    """The optional "fetch" capability: keys without metadata, then each object with its metadata.

    For a store whose listing carries no metadata (S3, Azure): `list` looks each object up, and
    a `read` after it is a second request; `fetch` answers both from one.
    """

    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Yield (key, size) of every object under `prefix`, without looking up metadata.

        Keys are named as `list` names them.

        Raises:
            DestinationError: The listing failed.
        """
        ...

    def fetch(self, key: str) -> tuple[ObjectInfo, Iterator[bytes]]:
        """Return what `stat` says of `key` and its content in chunks, from one request.

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The request or the read failed.
        """
        ...


@runtime_checkable
class SupportsLocalRoot(Protocol):
    """The optional "local_root" capability: the destination is a directory on this machine.

    Used to refuse a destination inside the source, or the source inside it.
    """

    @property
    def local_root(self) -> str:
        """The absolute path of the directory."""
        ...


@runtime_checkable
class SupportsConditional(Protocol):
    """The optional "conditional" capability: compare-and-swap of one small object.

    A tag names one version of an object (an ETag, a content hash): `put_if` replaces the object
    only while it still has the tag its caller read, so of two writers racing from the same
    version exactly one wins. Used for the lease at `LEASE_KEY`.
    """

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its tag.

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The read failed.
        """
        ...

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Store `data` under `key` if its tag is still `tag` (None: only if nothing is there).

        Returns:
            The tag of the version written.

        Raises:
            ConditionFailed: Another version is there (or one is, for `tag=None`); nothing was
                written.
            DestinationError: The write failed.
        """
        ...


class SetMetadata(Protocol):
    """The bound `set_metadata` of a destination (see `SupportsSetMetadata`)."""

    def __call__(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo: ...


class QuickList(Protocol):
    """The bound `quick_list` of a destination (see `SupportsQuickList`)."""

    def __call__(self, prefix: str = "") -> Iterator[ObjectInfo]: ...


class Sweep(Protocol):
    """The bound `sweep` of a destination (see `SupportsSweep`)."""

    def __call__(self, *, source: str | None = None) -> int: ...


@dataclass(frozen=True, slots=True)
class Features:
    """The optional capabilities of one destination: each a bound method (or a value), or None.

    Made by `features_of`, once per destination by each user of it. `stage`, `links`,
    `conditional`, `versions` and `fetch` are the destination itself (typed as the capability),
    since each is a group of methods used together.
    """

    rename: Callable[[str, str], ObjectInfo] | None = None
    copy: Callable[[str, str], ObjectInfo] | None = None
    set_metadata: SetMetadata | None = None
    read: Callable[[str], Iterator[bytes]] | None = None
    quick_list: QuickList | None = None
    stage: SupportsStage | None = None
    sweep: Sweep | None = None
    links: SupportsLinks | None = None
    local_root: str | None = None
    conditional: SupportsConditional | None = None
    versions: SupportsVersions | None = None
    fetch: SupportsFetch | None = None

    @property
    def names(self) -> frozenset[str]:
        """The names of the capabilities present."""
        return frozenset(name for name in CAPABILITIES if getattr(self, name) is not None)


CAPABILITIES = frozenset(field.name for field in fields(Features))
"""The name of every optional capability (the fields of `Features`)."""


def features_of(destination: Destination) -> Features:
    """Find the optional capabilities of `destination` (by the runtime-checkable Protocols)."""
    d = destination
    return Features(
        rename=d.rename if isinstance(d, SupportsRename) else None,
        copy=d.copy if isinstance(d, SupportsCopy) else None,
        set_metadata=d.set_metadata if isinstance(d, SupportsSetMetadata) else None,
        read=d.read if isinstance(d, SupportsRead) else None,
        quick_list=d.quick_list if isinstance(d, SupportsQuickList) else None,
        stage=d if isinstance(d, SupportsStage) else None,
        sweep=d.sweep if isinstance(d, SupportsSweep) else None,
        links=d if isinstance(d, SupportsLinks) else None,
        local_root=d.local_root if isinstance(d, SupportsLocalRoot) else None,
        conditional=d if isinstance(d, SupportsConditional) else None,
        versions=d if isinstance(d, SupportsVersions) else None,
        fetch=d if isinstance(d, SupportsFetch) else None,
    )
