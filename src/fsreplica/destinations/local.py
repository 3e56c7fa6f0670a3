"""A destination that is a directory on a local filesystem.

Every write goes to a temporary file beside its target, is flushed to disk and renamed into
place, so readers see the old file or the new one. A batch of staged files is flushed together
(one journal commit, see `_local_copy.start_writeback`) before any of them is renamed: group
commit. Temporary files are locked while they are written and only a sweep removes leftovers,
never a listing (see `_local_temp`). Directories are walked one component at a time through
directory file descriptors opened with O_NOFOLLOW: a symlink planted anywhere under the root is
never followed, so nothing is ever written outside it, and a path longer than PATH_MAX is
reached like any other. Directories are created 0700 and then given the mode of the source
directory they mirror (with the owner's rwx, which fsreplica needs to write into them), so a
private source directory is never readable by others at the destination, not even for a moment.

The SHA-256 of the content is kept in the extended attribute `user.fsreplica.sha256` together
with the size and mtime it was computed for; `stat` and `list` report it only while those still
match (a file edited in place at the destination has no hash rather than a stale one).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from fsreplica._oserrors import OSErrorKind, cause_of, classify_oserror
from fsreplica.destinations import _listdir, _local_conditional
from fsreplica.destinations._base import LEASE_KEY, ObjectInfo, check_key
from fsreplica.destinations._local_copy import (
    WRITEBACK_STEP,
    SparseWriter,
    data_ranges,
    flush,
    start_writeback,
)
from fsreplica.destinations._local_temp import (
    TEMP_GRACE,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    create_locked,
    is_temp,
    remove_if_abandoned,
)
from fsreplica.destinations._location import parse_location
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import ConditionFailed, DestinationError

__all__ = ["TEMP_PREFIX", "TEMP_SUFFIX", "XATTR_SHA256", "LocalDestination", "StagedFile"]

XATTR_SHA256 = "user.fsreplica.sha256"
READ_CHUNK = 1024 * 1024
SMALL_CHUNK = 64 * 1024
"""The copy buffer a worker starts with (it grows to READ_CHUNK for larger files)."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# A concurrent delete may prune a directory between our walk and our create: walk again.
_WALK_ATTEMPTS = 5


def _error(op: str, where: str, exc: OSError) -> DestinationError:
    retryable = classify_oserror(exc) is not OSErrorKind.FILE  # space freed, remounted rw...
    return DestinationError(op, where, cause_of(exc), retryable=retryable)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def _dir_mode(path: str) -> int | None:
    """The mode for a directory mirroring the source directory `path`, or None if it is gone.

    The source's permission bits, plus the owner's rwx: fsreplica writes into it.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return (st.st_mode & 0o7777) | 0o700


@dataclass(slots=True)
class StagedFile:
    """A temporary file written by `LocalDestination.stage`, waiting for `publish`."""

    key: str
    tmp: str
    name: str
    fd: int
    fds: list[int]  # the directories from the root to the file's parent
    where: str
    info: ObjectInfo | None


_Listed = list[tuple[str, "ObjectInfo | None"]]
"""A directory's objects by key, in key order; None for a subdirectory."""
_Found = list[tuple[str, str, "ObjectInfo | None"]]
"""A directory's objects and subdirectories (None), each with what it is sorted by."""
_Above = list[Iterator[tuple[str, "ObjectInfo | None"]]]


class LocalDestination:
    """Replicate into a local directory.

    Thread-safe for distinct keys. Capabilities: rename, set_metadata, read, quick_list, stage,
    sweep, put_link.

    Args:
        root: The destination directory; created (with parents) if missing, 0700 until the
            first put gives it the mode of the source root.
        fsync: Flush each file's data to disk before it is renamed into place.
        temp_grace: Seconds an unlocked temporary file must have been idle before `sweep`
            removes it (see `_local_temp`).
        create: Create the root when it is missing; without it (for looking only: `verify`,
            dry runs) a missing root is an error and nothing is created.

    Raises:
        DestinationError: The root cannot be created or opened (or is missing, without
            `create`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = True,
        temp_grace: float = TEMP_GRACE,
        create: bool = True,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.url = self.root
        self.fsync = fsync
        self.temp_grace = temp_grace
        # The source tree the puts come from (learnt from the first one): directories created
        # here get the modes of their counterparts there.
        self._source_root: str | None = None
        self._root_mode_pending = False
        try:
            if create and not os.path.isdir(self.root):
                os.makedirs(os.path.dirname(self.root), exist_ok=True)
                try:
                    os.mkdir(self.root, 0o700)
                    self._root_mode_pending = True
                except FileExistsError:
                    pass
            self._root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise _error("open", self.root, exc) from exc
        self._lock = threading.Lock()
        self._temps: set[str] = set()  # keys of temporary files listings found, for `sweep`
        self._dir_modes: dict[str, int] = {}  # directory -> mode, as quick_list saw them
        self._buffers = threading.local()  # one copy buffer per worker thread
        self._tmp_prefix = f"{TEMP_PREFIX}{os.urandom(4).hex()}-"
        self._tmp_count = itertools.count()
        self._xattrs = True

    @property
    def local_root(self) -> str:
        """The directory replicated into (the "local_root" capability)."""
        return self.root

    @classmethod
    def from_url(cls, url: str, **options: bool) -> LocalDestination:
        """Open a `file:///path` URL or a plain path."""
        location = parse_location(url)
        if location.host not in ("", "localhost"):
            raise ValueError(f"file URL with a remote host is not supported: {url}")
        assert location.path is not None  # open_destination sends only file:// and paths here
        return cls(location.path, **options)

    def _where(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _learn_source(self, path: str, key: str) -> None:
        """Note the source root `path` (the source file of `key`) lies in, once."""
        if self._source_root is not None or not path.endswith("/" + key):
            return
        root = path[: -len(key) - 1] or "/"
        self._source_root = root
        if self._root_mode_pending:
            self._root_mode_pending = False
            mode = _dir_mode(root)
            if mode is not None:
                os.fchmod(self._root_fd, mode)

    def _walk(self, parts: list[str], *, create: bool) -> list[int]:
        """Open every directory from the root to the key's parent; the root fd comes first.

        With `create`, missing directories are made (0700, then the source directory's mode)
        and anything else in the way (a file or a symlink where the source has a directory) is
        removed; without, FileNotFoundError.
        """
        fds = [self._root_fd]
        try:
            for depth, name in enumerate(parts[:-1]):
                parent = fds[-1]
                try:
                    fds.append(os.open(name, _DIR_FLAGS, dir_fd=parent))
                    continue
                except FileNotFoundError:
                    if not create:
                        raise
                except OSError as exc:
                    if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    if not create:
                        raise FileNotFoundError(errno.ENOENT, "not a directory") from exc
                    os.unlink(name, dir_fd=parent)  # unlinking a symlink never follows it
                try:
                    os.mkdir(name, 0o700, dir_fd=parent)
                    made = True
                except FileExistsError:
                    made = False
                fds.append(os.open(name, _DIR_FLAGS, dir_fd=parent))
                if made and self._source_root is not None:
                    mode = _dir_mode(os.path.join(self._source_root, *parts[: depth + 1]))
                    if mode is not None:
                        os.fchmod(fds[-1], mode)
        except BaseException:
            self._close_fds(fds)
            raise
        return fds

    def _close_fds(self, fds: list[int]) -> None:
        for fd in fds[1:]:
            os.close(fd)

    def _prune(self, parts: list[str], fds: list[int]) -> None:
        """Remove directories left empty by a delete or rename, deepest first."""
        for depth in range(len(parts) - 2, -1, -1):
            try:
                os.rmdir(parts[depth], dir_fd=fds[depth])
            except OSError:
                return

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Write `source` to `key` through a temporary file, fsync, then rename into place.

        Raises:
            SourceChangedError: The source changed while it was read; nothing was published.
            OSError: Reading the source failed.
            DestinationError: Writing failed.
        """
        result = self.publish([self.stage(key, source)])[0]
        if isinstance(result, DestinationError):
            raise result
        return result

    def stage(self, key: str, source: SourceFile) -> StagedFile:
        """Write `source` to a temporary file beside `key`; `publish` makes it visible.

        Raises:
            SourceChangedError: The source changed while it was read; nothing was written.
            OSError: Reading the source failed.
            DestinationError: Writing failed.
        """
        parts = check_key(key, op="put")
        where = self._where(key)
        try:
            self._learn_source(source.path, key)
        except OSError as exc:
            raise _error("put", self.root, exc) from exc
        for attempt in range(_WALK_ATTEMPTS):
            # A delete of the last file in a directory removes it: between our mkdir and our
            # open of it (in _walk), or our open and the temporary file's creation. Walk again.
            try:
                fds = self._walk(parts, create=True)
            except FileNotFoundError as exc:
                if attempt == _WALK_ATTEMPTS - 1:
                    raise _error("put", where, exc) from exc
                continue
            except OSError as exc:
                raise _error("put", where, exc) from exc
            tmp = self._temp_name()
            try:
                fd = create_locked(tmp, fds[-1])
                break
            except FileNotFoundError as exc:
                self._close_fds(fds)
                if attempt == _WALK_ATTEMPTS - 1:
                    raise _error("put", where, exc) from exc
            except OSError as exc:
                self._close_fds(fds)
                raise _error("put", where, exc) from exc
        # Keep only the parent open: a batch holds many staged files.
        for each in fds[1:-1]:
            os.close(each)
        fds = fds[:1] + fds[-1:] if len(fds) > 1 else fds
        staged = StagedFile(key, tmp, parts[-1], fd, fds, where, None)
        try:
            self._write(fd, source, where)
        except BaseException:
            self.discard(staged)
            raise
        staged.info = ObjectInfo(key, source.size, source.mtime_ns, source.mode, source.sha256)
        return staged

    def _temp_name(self) -> str:
        return f"{self._tmp_prefix}{next(self._tmp_count)}{TEMP_SUFFIX}"

    def publish(self, staged: list[StagedFile]) -> list[ObjectInfo | DestinationError]:
        """Flush the staged files together (see `_local_copy.flush`), then rename each into place.

        A failed flush fails the whole batch: nothing of it is published.
        """
        if self.fsync and staged:
            try:
                flush([item.fd for item in staged])
            except OSError as exc:
                for item in staged:
                    self.discard(item)
                return [_error("put", item.where, exc) for item in staged]
        results: list[ObjectInfo | DestinationError] = []
        for item in staged:
            try:
                self._publish(item.tmp, item.name, item.fds[-1], item.where)
            except DestinationError as exc:
                self.discard(item)
                results.append(exc)
                continue
            item.tmp = ""  # published: nothing to remove
            self.discard(item)
            assert item.info is not None
            results.append(item.info)
        return results

    def discard(self, staged: StagedFile) -> None:
        """Remove a staged file that was not published and release its handles; idempotent."""
        if staged.fds:
            if staged.tmp:
                try:  # while the lock is held: removed by its writer, never by a sweep
                    os.unlink(staged.tmp, dir_fd=staged.fds[-1])
                except OSError:
                    pass
                staged.tmp = ""
            self._close_fds(staged.fds)
            staged.fds = []
        if staged.fd >= 0:
            os.close(staged.fd)
            staged.fd = -1

    def _write(self, fd: int, source: SourceFile, where: str) -> None:
        # Each worker's buffer grows to the largest file it copied, up to READ_CHUNK: a daemon
        # with 20 policies of 4 workers copying small files kept 80 MiB of zeroed buffers.
        buffer = getattr(self._buffers, "buffer", None)
        need = min(READ_CHUNK, max(source.stat.st_size, SMALL_CHUNK))
        if buffer is None or len(buffer) < need:
            buffer = self._buffers.buffer = bytearray(need)
        ranges = data_ranges(source.fd, source.stat)
        sparse = SparseWriter(fd, ranges) if ranges is not None else None
        offset = kicked = 0
        for chunk in source.views(buffer):
            try:
                if sparse is not None:
                    sparse.write(offset, chunk)
                else:
                    _write_all(fd, chunk)
            except OSError as exc:
                raise _error("put", where, exc) from exc
            offset += len(chunk)
            if self.fsync and offset - kicked >= WRITEBACK_STEP:
                start_writeback(fd, kicked, offset - kicked)
                kicked = offset
        source.check_unchanged()
        try:
            if sparse is not None:
                sparse.finish(offset)
            os.fchmod(fd, source.mode)
            self._set_hash(fd, source.sha256, source.size, source.mtime_ns)
            os.utime(fd, ns=(source.stat.st_atime_ns, source.mtime_ns))
        except OSError as exc:
            raise _error("put", where, exc) from exc

    def _set_hash(self, fd: int, sha256: str | None, size: int, mtime_ns: int) -> None:
        if not self._xattrs or sha256 is None:
            return
        try:
            os.setxattr(fd, XATTR_SHA256, f"{sha256}:{size}:{mtime_ns}".encode())
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                raise
            self._xattrs = False

    def _publish(self, tmp: str, name: str, dir_fd: int, where: str) -> None:
        try:
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except FileNotFoundError as exc:
            # The temporary file (or its directory) was removed behind our back: by a
            # concurrent delete of the directory, or by an older fsreplica's listing. The
            # copy is lost, not wrong: write it again.
            raise DestinationError("put", where, "temporary file removed", retryable=True) from exc
        except OSError as exc:
            if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise _error("put", where, exc) from exc
            # The source has a file where the destination has a directory: the file wins.
            try:
                shutil.rmtree(name, dir_fd=dir_fd)
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError as exc2:
                raise _error("put", where, exc2) from exc2

    def delete(self, key: str) -> None:
        """Remove `key` and the directories it leaves empty; a missing key is not an error.

        Raises:
            DestinationError: The removal failed.
        """
        parts = check_key(key, op="delete")
        try:
            fds = self._walk(parts, create=False)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _error("delete", self._where(key), exc) from exc
        try:
            os.unlink(parts[-1], dir_fd=fds[-1])
        except (FileNotFoundError, IsADirectoryError):
            pass
        except OSError as exc:
            raise _error("delete", self._where(key), exc) from exc
        else:
            self._prune(parts, fds)
        finally:
            self._close_fds(fds)

    def stat(self, key: str) -> ObjectInfo:
        """Return the size, mtime, mode and (when recorded and current) SHA-256 of `key`.

        Raises:
            FileNotFoundError: No regular file is stored under `key`.
            DestinationError: The lookup failed.
        """
        fd = self._open_file(key, op="stat")
        try:
            return self._stat_info(key, fd)
        finally:
            os.close(fd)

    def _stat_info(self, key: str, fd: int) -> ObjectInfo:
        st = os.fstat(fd)
        return self._info(key, st.st_size, st.st_mtime_ns, st.st_mode, fd)

    def _info(self, key: str, size: int, mtime_ns: int, mode: int, target: int | str) -> ObjectInfo:
        sha256 = None
        if self._xattrs:
            try:
                if isinstance(target, int):
                    raw = os.getxattr(target, XATTR_SHA256)
                else:
                    raw = os.getxattr(target, XATTR_SHA256, follow_symlinks=False)
            except OSError:
                raw = b""
            value, _, rest = raw.decode("ascii", "replace").partition(":")
            if rest == f"{size}:{mtime_ns}":
                sha256 = value
        return ObjectInfo(key, size, mtime_ns, mode & 0o7777, sha256)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every regular file under the root whose key starts with `prefix`.

        Symlinks and special files are not objects and are skipped, and so are temporary
        files: a listing never changes anything (see `sweep`).

        Raises:
            DestinationError: A directory cannot be read.
        """
        return self._scan(prefix, hashes=True, links=False)

    def quick_list(self, prefix: str = "", *, links: bool = False) -> Iterator[ObjectInfo]:
        """Like `list`, without reading the hash attribute (sha256 is None): one call less each.

        Args:
            prefix: Only keys that start with it.
            links: Also yield each symlink, with its target in `link` (and no mode).

        Raises:
            DestinationError: A directory cannot be read.
        """
        return self._scan(prefix, hashes=False, links=links)

    def _scan(self, prefix: str, *, hashes: bool, links: bool) -> Iterator[ObjectInfo]:
        """Yield the objects under the root whose key starts with `prefix`, in key order.

        Each directory's entries are sorted, a directory's name with a '/' after it, so that
        the keys come in the order of their UTF-8 bytes, as the source walk yields them (see
        `fsreplica.replicate.march`). One directory is read at a time, and closed before its
        objects are yielded.
        """
        start = prefix.rpartition("/")[0]
        if start:
            try:
                check_key(start, op="list")
            except DestinationError:
                return
        here = iter(self._scan_dir(start, prefix, hashes=hashes, links=links))
        above: _Above = []
        while True:
            for key, info in here:
                if info is None:
                    above.append(here)
                    here = iter(self._scan_dir(key, prefix, hashes=hashes, links=links))
                    break
                yield info
            else:
                if not above:
                    return
                here = above.pop()

    def _scan_dir(self, rel: str, prefix: str, *, hashes: bool, links: bool) -> _Listed:
        """The objects of directory `rel` and its subdirectories (None), in key order, by key."""
        try:
            fd = self._open_dir(rel)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return []  # replaced by a symlink since it was listed
            raise _error("list", self._where(rel) if rel else self.root, exc) from exc
        try:
            if not hashes:
                mode = os.fstat(fd).st_mode & 0o7777
                with self._lock:
                    self._dir_modes[rel] = mode
            found = self._read_dir(fd, rel, prefix, hashes=hashes, links=links)
        finally:
            os.close(fd)
        found.sort(key=_first)
        return [(key, info) for _, key, info in found]

    def _open_dir(self, rel: str) -> int:
        """Open the directory `rel`; through the ones above it when its path is too long."""
        if not rel:
            return os.dup(self._root_fd)
        try:
            return os.open(rel, _DIR_FLAGS, dir_fd=self._root_fd)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
        fds = self._walk([*rel.split("/"), ""], create=False)
        fd = fds.pop()
        self._close_fds(fds)
        return fd

    def _read_dir(self, fd: int, rel: str, prefix: str, *, hashes: bool, links: bool) -> _Found:
        """The objects and subdirectories (None) of the open directory `rel`, unsorted.

        Each comes with what it is sorted by: its name, with a '/' after a directory's.
        """
        found: _Found = []
        try:
            listed = _listdir.entries(fd)
        except OSError as exc:
            raise _error("list", self._where(rel) if rel else self.root, exc) from exc
        for name, mode, size, mtime_ns in listed:
            key = f"{rel}/{name}" if rel else name
            if mode < 0:  # its lstat failed: size is the errno
                raise _error("list", self._where(key), OSError(size, os.strerror(size)))
            if stat.S_ISDIR(mode):
                if key.startswith(prefix) or prefix.startswith(key + "/"):
                    found.append((name + "/", key, None))
                continue
            if name[0] == "." and is_temp(name):
                with self._lock:
                    self._temps.add(key)
                continue
            if name == LEASE_KEY and not rel:
                continue  # the lease: not an object (see `put_if`)
            if not key.startswith(prefix):
                continue
            if stat.S_ISLNK(mode):
                if links:
                    try:
                        target = os.readlink(name, dir_fd=fd)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        raise _error("list", self._where(key), exc) from exc
                    found.append((name, key, ObjectInfo(key, size, mtime_ns, None, None, target)))
                continue
            if not stat.S_ISREG(mode):
                continue
            if hashes:
                # getxattr has no dir_fd: name the file through the open directory, which
                # works at any depth.
                info = self._info(key, size, mtime_ns, mode, f"/proc/self/fd/{fd}/{name}")
            else:
                info = ObjectInfo(key, size, mtime_ns, mode & 0o7777)
            found.append((name, key, info))
        return found

    def sweep(self, *, source: str | None = None) -> int:
        """Tidy up after a listing: remove abandoned temporary files, fix directory modes.

        A temporary file is removed when it is provably abandoned: no writer holds its lock and
        it was idle for `temp_grace` seconds (see `_local_temp`); a copy in flight, of this
        process or any other, is never removed. With `source`, each directory `quick_list` saw
        whose mode differs from its counterpart's under `source` (plus the owner's rwx) is
        given that mode: a chmod in the source, or a directory created 0755 by an older
        version, is repaired.

        Returns:
            How many temporary files were removed.
        """
        with self._lock:
            found, self._temps = self._temps, set()
            dirs, self._dir_modes = self._dir_modes, {}
        removed = 0
        for key in sorted(found):
            parts = key.split("/")
            try:
                fds = self._walk(parts, create=False)
            except OSError:
                continue
            try:
                removed += remove_if_abandoned(parts[-1], fds[-1], grace=self.temp_grace)
            finally:
                self._close_fds(fds)
        if source is not None:
            self._fix_dir_modes(source, dirs)
        return removed

    def _fix_dir_modes(self, source: str, dirs: dict[str, int]) -> None:
        for rel, mode in dirs.items():
            want = _dir_mode(os.path.join(source, rel) if rel else source)
            if want is None or want == mode:
                continue
            try:
                fd = self._open_dir(rel)
            except OSError:
                continue
            try:
                os.fchmod(fd, want)
            except OSError:
                pass  # not ours to change: left as it is
            finally:
                os.close(fd)

    def put_link(self, key: str, target: str, *, mtime_ns: int | None = None) -> ObjectInfo:
        """Make `key` a symlink whose text is `target`, atomically replacing what is there.

        The link is created under a temporary name and renamed into place: whatever was at
        `key` (a file, another symlink) is replaced, never written through. `target` is copied
        verbatim and never resolved.

        Raises:
            DestinationError: The link cannot be made.
        """
        parts = check_key(key, op="put")
        where = self._where(key)
        try:
            fds = self._walk(parts, create=True)
        except OSError as exc:
            raise _error("put", where, exc) from exc
        tmp = self._temp_name()
        dir_fd = fds[-1]
        try:
            try:
                os.symlink(target, tmp, dir_fd=dir_fd)
                if mtime_ns is not None:
                    os.utime(tmp, ns=(mtime_ns, mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                raise _error("put", where, exc) from exc
            try:
                self._publish(tmp, parts[-1], dir_fd, where)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
            try:
                st = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                raise _error("put", where, exc) from exc
        finally:
            self._close_fds(fds)
        return ObjectInfo(key, st.st_size, st.st_mtime_ns, None, None, target)

    def rename(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Move `src_key` to `dst_key` in one system call, replacing what is there.

        Raises:
            FileNotFoundError: `src_key` is not a regular file here.
            DestinationError: The move failed.
        """
        src_parts = check_key(src_key, op="rename")
        dst_parts = check_key(dst_key, op="rename")
        where = self._where(dst_key)
        try:
            src_fds = self._walk(src_parts, create=False)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise _error("rename", where, exc) from exc
        try:
            st = os.stat(src_parts[-1], dir_fd=src_fds[-1], follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a regular file", src_key)
            try:
                dst_fds = self._walk(dst_parts, create=True)
            except OSError as exc:
                raise _error("rename", where, exc) from exc
            try:
                os.rename(
                    src_parts[-1], dst_parts[-1], src_dir_fd=src_fds[-1], dst_dir_fd=dst_fds[-1]
                )
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise _error("rename", where, exc) from exc
            finally:
                self._close_fds(dst_fds)
            self._prune(src_parts, src_fds)
        finally:
            self._close_fds(src_fds)
        return self.stat(dst_key)

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Set the mtime (and mode) of `key` without rewriting it; the hash is kept.

        Raises:
            FileNotFoundError: `key` is not a regular file here.
            DestinationError: The update failed.
        """
        before = self.stat(key)
        fd = self._open_file(key, op="set_metadata")
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
            self._set_hash(fd, before.sha256, before.size, mtime_ns)
            return self._stat_info(key, fd)
        except OSError as exc:
            raise _error("set_metadata", self._where(key), exc) from exc
        finally:
            os.close(fd)

    def _open_file(self, key: str, *, op: str) -> int:
        parts = check_key(key, op=op)
        try:
            fds = self._walk(parts, create=False)
            try:
                fd = os.open(
                    parts[-1],
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                    dir_fd=fds[-1],
                )
            finally:
                self._close_fds(fds)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise FileNotFoundError(errno.ENOENT, "not found", key) from exc
            raise _error(op, self._where(key), exc) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileNotFoundError(errno.ENOENT, "not a regular file", key)
        return fd

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key`.

        Raises:
            FileNotFoundError: `key` is not a regular file here.
            DestinationError: The read failed.
        """
        fd = self._open_file(key, op="read")
        try:
            offset = 0
            while True:
                try:
                    data = os.pread(fd, READ_CHUNK, offset)
                except OSError as exc:
                    raise _error("read", self._where(key), exc) from exc
                if not data:
                    return
                offset += len(data)
                yield data
        finally:
            os.close(fd)

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its tag (see `SupportsConditional`).

        Raises:
            FileNotFoundError: `key` is not a regular file here.
            DestinationError: The read failed.
        """
        fd = self._open_file(key, op="read")
        try:
            data = os.read(fd, _local_conditional.MAX_SIZE)
        except OSError as exc:
            raise _error("read", self._where(key), exc) from exc
        finally:
            os.close(fd)
        return data, _local_conditional.tag_of(data)

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Store `data` under `key` if its tag is still `tag` (None: only if nothing is there).

        Compared and renamed into place under a lock on the directory, which other processes
        take too (see `_local_conditional`); not flushed to disk.

        Raises:
            ConditionFailed: Another version is there; nothing was written.
            DestinationError: The write failed.
        """
        parts = check_key(key, op="put")
        where = self._where(key)
        try:
            fds = self._walk(parts, create=True)
        except OSError as exc:
            raise _error("put", where, exc) from exc
        try:
            # Not flushed: a lease renewed every few seconds would cost a disk flush each time,
            # and a version lost to a crash of the machine is only an older lease.
            done = _local_conditional.replace_if(parts[-1], fds[-1], data, tag=tag, fsync=False)
        except OSError as exc:
            raise _error("put", where, exc) from exc
        finally:
            self._close_fds(fds)
        if not done:
            raise ConditionFailed(where)
        return _local_conditional.tag_of(data)

    def close(self) -> None:
        """Close the root directory; idempotent."""
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    def __repr__(self) -> str:
        return f"LocalDestination({self.root!r})"

    def __enter__(self) -> LocalDestination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _first(item: tuple[str, str, ObjectInfo | None]) -> str:
    return item[0]
