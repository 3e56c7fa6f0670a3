"""A destination held in memory: for tests, and as the simplest example of the contract."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

from fsreplica.destinations._base import ObjectInfo, check_key
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import ConditionFailed


class MemoryDestination:
    """Objects in a dict, with every optional capability.

    Objects written by `put_if` (the lease) are kept apart and never listed.

    `fail(op, error, times=1)` makes the next `times` calls of `op` raise `error` first, to test
    retries without mocks. `calls` counts the calls of each operation.

    Args:
        name: Shown in `url` as `memory://name`.
    """

    def __init__(self, name: str = "") -> None:
        self.url = f"memory://{name}"
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, ObjectInfo]] = {}
        # Written by put_if: kept apart, so listings never show them (the lease).
        self._tagged: dict[str, tuple[bytes, str]] = {}
        self._faults: dict[str, list[BaseException]] = {}
        self.calls: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str) -> MemoryDestination:
        """Open `memory://name` (a new, empty destination)."""
        return cls(url.partition("://")[2])

    def fail(self, op: str, error: BaseException, *, times: int = 1) -> None:
        """Make the next `times` calls of `op` raise `error`."""
        with self._lock:
            self._faults.setdefault(op, []).extend([error] * times)

    def _enter(self, op: str) -> None:
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            faults = self._faults.get(op)
            error = faults.pop(0) if faults else None
        if error is not None:
            raise error

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Store the content of `source` (see `Destination.put`)."""
        check_key(key, op="put")
        self._enter("put")
        data = b"".join(source.chunks())
        source.check_unchanged()
        info = ObjectInfo(key, len(data), source.mtime_ns, source.mode, source.sha256)
        with self._lock:
            self._objects[key] = (data, info)
        return info

    def delete(self, key: str) -> None:
        """Remove `key`; missing is fine."""
        check_key(key, op="delete")
        self._enter("delete")
        with self._lock:
            self._objects.pop(key, None)

    def stat(self, key: str) -> ObjectInfo:
        """Return the info of `key` or raise FileNotFoundError."""
        check_key(key, op="stat")
        self._enter("stat")
        with self._lock:
            try:
                return self._objects[key][1]
            except KeyError:
                raise FileNotFoundError(key) from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the info of every key starting with `prefix`, in key order."""
        self._enter("list")
        with self._lock:
            infos = [info for key, (_, info) in self._objects.items() if key.startswith(prefix)]
        infos.sort(key=_key_of)
        yield from infos

    def rename(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Move `src_key` to `dst_key`."""
        check_key(src_key, op="rename")
        check_key(dst_key, op="rename")
        self._enter("rename")
        with self._lock:
            try:
                data, info = self._objects.pop(src_key)
            except KeyError:
                raise FileNotFoundError(src_key) from None
            new = ObjectInfo(dst_key, info.size, info.mtime_ns, info.mode, info.sha256)
            self._objects[dst_key] = (data, new)
        return new

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy `src_key` to `dst_key`."""
        check_key(src_key, op="copy")
        check_key(dst_key, op="copy")
        self._enter("copy")
        with self._lock:
            try:
                data, info = self._objects[src_key]
            except KeyError:
                raise FileNotFoundError(src_key) from None
            new = ObjectInfo(dst_key, info.size, info.mtime_ns, info.mode, info.sha256)
            self._objects[dst_key] = (data, new)
        return new

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Change the recorded mtime and mode of `key`."""
        check_key(key, op="set_metadata")
        self._enter("set_metadata")
        with self._lock:
            try:
                data, info = self._objects[key]
            except KeyError:
                raise FileNotFoundError(key) from None
            new = ObjectInfo(
                key, info.size, mtime_ns, info.mode if mode is None else mode, info.sha256
            )
            self._objects[key] = (data, new)
        return new

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key`."""
        check_key(key, op="read")
        self._enter("read")
        with self._lock:
            try:
                data = self._objects[key][0]
            except KeyError:
                raise FileNotFoundError(key) from None
        yield data

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return what `put_if` stored under `key` and its tag (see `SupportsConditional`)."""
        check_key(key, op="read")
        self._enter("read_tag")
        with self._lock:
            try:
                return self._tagged[key]
            except KeyError:
                raise FileNotFoundError(key) from None

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Store `data` under `key` if its tag is still `tag` (see `SupportsConditional`)."""
        check_key(key, op="put")
        self._enter("put_if")
        with self._lock:
            current = self._tagged.get(key)
            if (current[1] if current else None) != tag:
                raise ConditionFailed(f"{self.url}/{key}")
            new = f"{hashlib.sha256(data).hexdigest()[:16]}-{self.calls['put_if']}"
            self._tagged[key] = (bytes(data), new)
        return new

    def content(self, key: str) -> bytes:
        """Return the stored bytes of `key` (for tests)."""
        with self._lock:
            return self._objects[key][0]

    def keys(self) -> tuple[str, ...]:
        """Return the stored keys, sorted (for tests)."""
        with self._lock:
            return tuple(sorted(self._objects))

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryDestination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _key_of(info: ObjectInfo) -> str:
    return info.key
