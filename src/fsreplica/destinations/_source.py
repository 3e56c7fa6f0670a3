"""Reading a source file safely: regular files only, never through a symlink, never half-written."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from types import TracebackType

from fsreplica.errors import NotRegularFileError, SourceChangedError

CHUNK_SIZE = 1024 * 1024


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


class SourceFile:
    """An open regular file with the stat taken when it was opened.

    Opened with O_NOFOLLOW (a symlink is refused, never followed) and O_NONBLOCK (opening a FIFO
    can never hang); anything but a regular file is refused with `NotRegularFileError`.

    Args:
        path: The file to read.

    Raises:
        FileNotFoundError: The file does not exist (any more).
        NotRegularFileError: It is not a regular file.
        OSError: It cannot be opened (permissions, ...).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotRegularFileError(path, "symlink") from exc
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFileError(path, _kind(st.st_mode))
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.stat = st
        self.sha256: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes when opened."""
        return self.stat.st_size

    @property
    def mtime_ns(self) -> int:
        """Modification time when opened."""
        return self.stat.st_mtime_ns

    @property
    def mode(self) -> int:
        """Permission bits."""
        return self.stat.st_mode & 0o7777

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the content from the start, hashing it; sets `sha256` after the last chunk."""
        import hashlib  # noqa: PLC0415 - OpenSSL loads in ms; a no-change sync never hashes

        digest = hashlib.sha256()
        offset = 0
        while True:
            data = os.pread(self.fd, size, offset)
            if not data:
                break
            offset += len(data)
            digest.update(data)
            yield data
        self.sha256 = digest.hexdigest()

    def read_all(self) -> bytes:
        """Read and hash the whole content in one read of the size seen when opened.

        No read to find the end: a file that grew or shrank since then fails
        `check_unchanged`, which every reader calls before publishing. A buffer of exactly the
        size also spares the page faults of a larger one trimmed after the read.

        Raises:
            SourceChangedError: Fewer bytes than the size were read (the file shrank).
        """
        import hashlib  # noqa: PLC0415 - see chunks

        size = self.stat.st_size
        data = os.pread(self.fd, size, 0) if size else b""
        if len(data) != size:
            raise SourceChangedError(self.path)
        self.sha256 = hashlib.sha256(data).hexdigest()
        return data

    def views(self, buffer: bytearray | memoryview) -> Iterator[memoryview]:
        """Like `chunks`, but read into `buffer`: each view is valid until the next is asked for.

        Saves allocating (and page-faulting) a fresh bytes object per chunk; sets `sha256` after
        the last one.
        """
        import hashlib  # noqa: PLC0415 - see chunks

        digest = hashlib.sha256()
        whole = memoryview(buffer)
        offset = 0
        fd = self.fd
        size = self.stat.st_size
        # Stop at the size seen when opened, without a last read to find the end: a file that
        # grew since then fails `check_unchanged`, which every reader calls before publishing.
        while offset < size:
            n = os.preadv(fd, [whole], offset)
            if not n:
                break
            offset += n
            view = whole[:n]
            digest.update(view)
            yield view
        self.sha256 = digest.hexdigest()

    def check_unchanged(self) -> None:
        """Raise SourceChangedError if the file changed since it was opened.

        Compares size, mtime_ns and ctime_ns of the open file and checks the path still names it.
        """
        now = os.fstat(self.fd)
        before = self.stat
        if (now.st_size, now.st_mtime_ns, now.st_ctime_ns) != (
            before.st_size,
            before.st_mtime_ns,
            before.st_ctime_ns,
        ):
            raise SourceChangedError(self.path)
        try:
            current = os.lstat(self.path)
        except OSError as exc:
            raise SourceChangedError(self.path) from exc
        if (current.st_ino, current.st_dev) != (before.st_ino, before.st_dev):
            raise SourceChangedError(self.path)

    def close(self) -> None:
        """Close the file; idempotent."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
