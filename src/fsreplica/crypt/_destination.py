"""`CryptDestination`: any destination, with its content (and optionally its names) encrypted.

A wrapper over the destination contract, so sync, replicate, verify, status and restore, and
every destination kind, get encryption at once. What it forwards and how:

- `put` seals the source (`_sealed.SealedSource`) and puts the sealed copy under the key (its
  sealed form when names are encrypted); `stage`/`publish`/`discard` likewise when the inner
  destination stages (the local one's group commit), so conditional writes, multipart uploads
  and group commits are the inner destination's own, on sealed bytes.
- `list`/`quick_list`/`stat` map each stored object back: its key opened, its size the
  plaintext's (computed from the sealed size), its content hash unsealed (an object whose hash
  does not unseal has none). The key object is never listed, nor a stored name that does not
  open (another tool's file: left alone, never deleted). With encrypted names a listing is read
  whole and sorted, since the stored order is not the keys' order.
- `read` opens the object chunk by chunk (`_format.open_stream`): `verify` and `restore` read
  plaintext, and a tampered object raises `IntegrityError` naming its key.
- `set_metadata`, `sweep` and `local_root` are forwarded when the inner destination has them.
  `rename` and `copy` are not offered: each object is sealed for its own key, so a moved copy
  would no longer open; the replicator then puts the renamed file afresh and deletes the old.
  Symlinks (`put_link`) are not offered either: a symlink's target would travel in clear.
- `conditional` (`read_tag`/`put_if`, the daemon's lease) seals small objects in memory;
  `versions` (restore --at) opens earlier versions as the current ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsreplica.crypt import KEY_OBJECT
from fsreplica.crypt._format import open_digest, open_stream, plain_size, seal_bytes
from fsreplica.crypt._keys import Keyring
from fsreplica.crypt._sealed import SealedSource
from fsreplica.destinations._base import (
    LEASE_KEY,
    Destination,
    ObjectInfo,
    ObjectVersion,
    Staged,
    check_key,
    features_of,
)
from fsreplica.errors import DestinationError, IntegrityError, InvalidKeyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from fsreplica.destinations._base import (
        Features,
        SupportsConditional,
        SupportsStage,
        SupportsVersions,
    )

    Expected = Callable[[str], str | None]
    """A key's expected plaintext SHA-256 (from a replicator's state), or None when unknown."""
    from fsreplica.destinations._source import SourceFile

log = logging.getLogger("fsreplica")


@dataclass(slots=True)
class StagedSealed:
    """A sealed put staged at the inner destination (see `SupportsStage`)."""

    key: str
    inner: Staged
    info: ObjectInfo


class CryptDestination:
    """Encrypts everything stored in `inner` with the data key of `keyring`.

    Build one with `encrypted(inner, keyring)`, which adds the optional capabilities the inner
    destination has. Closing it closes the inner destination.

    Attributes:
        url: The inner destination's (the state file of a pair is named after it).
        inner: The destination holding the sealed objects.
        keyring: The unwrapped data key.
    """

    def __init__(
        self, inner: Destination, keyring: Keyring, *, expected: Expected | None = None
    ) -> None:
        self.inner = inner
        self.keyring = keyring
        self.expected = expected
        self.url = inner.url
        self._features: Features = features_of(inner)
        self._names = keyring.names
        self._skipped = False

    # -- keys ----------------------------------------------------------------------------------

    def stored_key(self, key: str, *, op: str = "put") -> str:
        """The key under which the inner destination holds `key`."""
        check_key(key, op=op)
        if self._names is None:
            if key == KEY_OBJECT:
                raise InvalidKeyError(op, key)  # the key object's own name
            return key
        return self._names.seal(key)

    def _info(self, info: ObjectInfo, key: str | None = None) -> ObjectInfo | None:
        """The plaintext view of a stored object's info; None for what is not ours."""
        if key is None:
            key = self._open_key(info.key)
            if key is None:
                return None
        size = plain_size(info.size)
        if size is None:
            size = -1  # never a source's size: compared as different, shown by verify
        sha256 = open_digest(self.keyring.content, key, info.sha256)
        return ObjectInfo(key, size, info.mtime_ns, info.mode, sha256)

    def _open_key(self, stored: str) -> str | None:
        if stored == KEY_OBJECT:
            return None
        if self._names is None:
            return stored
        key = self._names.open(stored)
        if key is None and not self._skipped:
            self._skipped = True
            log.warning("%s: leaving alone objects whose names do not decrypt", self.url)
        return key

    def _listed(self, infos: Iterator[ObjectInfo]) -> Iterator[ObjectInfo]:
        mapped = (self._info(info) for info in infos)
        if self._names is None:
            yield from (info for info in mapped if info is not None)
            return
        found = [info for info in mapped if info is not None]
        found.sort(key=_key_of)
        yield from found

    # -- the contract --------------------------------------------------------------------------

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Seal `source` for `key` and store it (see `Destination.put`)."""
        stored = self.stored_key(key)
        with SealedSource(source, key, self.keyring.content) as sealed:
            info = self.inner.put(stored, sealed)
        return ObjectInfo(key, source.size, info.mtime_ns, info.mode, source.sha256)

    def delete(self, key: str) -> None:
        """Remove `key` (see `Destination.delete`)."""
        self.inner.delete(self.stored_key(key, op="delete"))

    def stat(self, key: str) -> ObjectInfo:
        """What is stored under `key`, in plaintext terms (see `Destination.stat`)."""
        info = self._info(self.inner.stat(self.stored_key(key, op="stat")), key)
        assert info is not None
        return info

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix` (see `Destination.list`)."""
        if self._names is None:
            return self._listed(self.inner.list(prefix))
        return (info for info in self._listed(self.inner.list()) if info.key.startswith(prefix))

    def close(self) -> None:
        """Close the inner destination; idempotent."""
        self.inner.close()

    def __enter__(self) -> CryptDestination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _key_of(info: ObjectInfo) -> str:
    return info.key


class _Read(CryptDestination):
    def read(self, key: str) -> Iterator[bytes]:
        """Yield the plaintext of `key`, each chunk once it authenticated.

        With `expected` (the SHA-256 a replicator's state records for the key), the last chunk
        is given only if the whole content has that hash: an older version put back (replayed)
        authenticates, but is refused here.

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            IntegrityError: The object does not authenticate (see `_format.open_stream`), or it
                is not the version `expected` names.
            DestinationError: Reading failed.
        """
        read = self._features.read
        assert read is not None
        stream = open_stream(self.keyring.content, key, read(self.stored_key(key, op="read")))
        want = self.expected(key) if self.expected is not None else None
        return stream if want is None else _checked(stream, key, want)


def _checked(stream: Iterator[bytes], key: str, want: str) -> Iterator[bytes]:
    """`stream`, its last chunk held back until the whole content is known to hash to `want`."""
    digest = hashlib.sha256()
    held: bytes | None = None
    for chunk in stream:
        if held is not None:
            yield held
        digest.update(chunk)
        held = chunk
    if digest.hexdigest() != want:
        raise IntegrityError(key, "not the version the state records (an older one put back?)")
    if held is not None:
        yield held


class _SetMetadata(CryptDestination):
    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Change the mtime and mode of `key` (metadata travels in clear)."""
        set_metadata = self._features.set_metadata
        assert set_metadata is not None
        stored = self.stored_key(key, op="set_metadata")
        info = self._info(set_metadata(stored, mtime_ns=mtime_ns, mode=mode), key)
        assert info is not None
        return info


class _QuickList(CryptDestination):
    def quick_list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Like `list`, hashes left out where the inner destination leaves them out."""
        quick_list = self._features.quick_list
        assert quick_list is not None
        if self._names is None:
            return self._listed(quick_list(prefix))
        return (info for info in self._listed(quick_list()) if info.key.startswith(prefix))


class _Sweep(CryptDestination):
    def sweep(self, *, source: str | None = None) -> int:
        """Remove what interrupted puts left (directory modes mirrored only with clear names)."""
        sweep = self._features.sweep
        assert sweep is not None
        return sweep(source=source if self._names is None else None)


class _LocalRoot(CryptDestination):
    @property
    def local_root(self) -> str:
        """The inner destination's directory."""
        root = self._features.local_root
        assert root is not None
        return root


class _Stage(CryptDestination):
    def stage(self, key: str, source: SourceFile) -> StagedSealed:
        """Seal `source` and stage the sealed copy at the inner destination."""
        stage = self._stager()
        stored = self.stored_key(key)
        with SealedSource(source, key, self.keyring.content) as sealed:
            inner = stage.stage(stored, sealed)
        info = ObjectInfo(key, source.size, source.mtime_ns, source.mode, source.sha256)
        return StagedSealed(key, inner, info)

    def publish(self, staged: list[StagedSealed]) -> list[ObjectInfo | DestinationError]:
        """Publish staged puts at the inner destination; one result per item, in order."""
        results = self._stager().publish([item.inner for item in staged])
        return [
            result if isinstance(result, DestinationError) else _published(item.info, result)
            for item, result in zip(staged, results, strict=True)
        ]

    def discard(self, staged: StagedSealed) -> None:
        """Drop a staged put; never raises."""
        self._stager().discard(staged.inner)

    def _stager(self) -> SupportsStage:
        stage = self._features.stage
        assert stage is not None
        return stage


class _Conditional(CryptDestination):
    """Compare-and-swap of one small object (the daemon's lease), sealed like any object.

    The lease keeps its own name even when names are sealed: the inner destination knows it and
    never lists it, so a reconcile never deletes it.
    """

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """The plaintext of `key` and its tag (see `SupportsConditional`)."""
        data, tag = self._cas().read_tag(self._cas_key(key))
        return b"".join(open_stream(self.keyring.content, key, iter([data]))), tag

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Seal `data` and store it if the tag is still `tag` (see `SupportsConditional`)."""
        sealed = seal_bytes(self.keyring.content, key, data)
        return self._cas().put_if(self._cas_key(key), sealed, tag=tag)

    def _cas_key(self, key: str) -> str:
        return key if key == LEASE_KEY else self.stored_key(key, op="put_if")

    def _cas(self) -> SupportsConditional:
        conditional = self._features.conditional
        assert conditional is not None
        return conditional


class _Versions(CryptDestination):
    """Earlier versions (restore --at), each opened as the current one is."""

    def keeps_versions(self) -> bool:
        """Whether the inner store keeps earlier versions."""
        return self._versions().keeps_versions()

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every version of every key starting with `prefix`, keys opened, sizes the plaintext's."""
        inner_prefix = prefix if self._names is None else ""
        for version in self._versions().list_versions(inner_prefix):
            key = self._open_key(version.key)
            if key is None or not key.startswith(prefix):
                continue
            size = 0 if version.deleted else plain_size(version.size)
            yield dataclasses.replace(version, key=key, size=-1 if size is None else size)

    def stat_version(self, key: str, version: str) -> ObjectInfo:
        """What `version` of `key` holds, in plaintext terms."""
        stored = self._versions().stat_version(self.stored_key(key, op="stat"), version)
        info = self._info(stored, key)
        assert info is not None
        return info

    def read_version(self, key: str, version: str) -> Iterator[bytes]:
        """The plaintext of `version` of `key`, each chunk once it authenticated."""
        chunks = self._versions().read_version(self.stored_key(key, op="read"), version)
        return open_stream(self.keyring.content, key, chunks)

    def _versions(self) -> SupportsVersions:
        versions = self._features.versions
        assert versions is not None
        return versions


def _published(info: ObjectInfo, stored: ObjectInfo) -> ObjectInfo:
    return ObjectInfo(info.key, info.size, stored.mtime_ns, stored.mode, info.sha256)


_CLASSES: dict[frozenset[str], type[CryptDestination]] = {}
_MIXINS: dict[str, type[CryptDestination]] = {
    "read": _Read,
    "set_metadata": _SetMetadata,
    "quick_list": _QuickList,
    "sweep": _Sweep,
    "local_root": _LocalRoot,
    "stage": _Stage,
    "conditional": _Conditional,
    "versions": _Versions,
}


def encrypted(
    inner: Destination, keyring: Keyring, *, expected: Expected | None = None
) -> CryptDestination:
    """Wrap `inner` so that everything stored in it is encrypted with `keyring`'s data key.

    The wrapper has the optional capabilities of `inner` that it can keep (see the module's
    docstring): `features_of` finds exactly those.

    Args:
        inner: The destination holding the sealed objects.
        keyring: The unwrapped data key.
        expected: For reading: each key's SHA-256 as a replicator's state records it; a read
            that finds another version raises `IntegrityError` (see `read`).
    """
    names = frozenset(features_of(inner).names & _MIXINS.keys())
    cls = _CLASSES.get(names)
    if cls is None:
        bases: tuple[Any, ...] = tuple(_MIXINS[name] for name in sorted(names)) or (
            CryptDestination,
        )
        cls = type("CryptDestination", bases, {"__doc__": CryptDestination.__doc__})
        _CLASSES[names] = cls
    return cls(inner, keyring, expected=expected)
