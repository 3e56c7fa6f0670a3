"""The exceptions fsreplica raises; all derive from FsreplicaError.

Each is shown as one line: a path (a file name may hold a newline or bytes that are not UTF-8)
and a reason go through `fsreplica._names.shown`.
"""

from __future__ import annotations

import os
from typing import ClassVar

from fsreplica._names import shown


class FsreplicaError(Exception):
    """Base class of every error fsreplica raises on purpose."""


def _line(op: str, where: str, reason: str) -> str:
    """The one-line form of an error about one path or URL: `<op> <where>: <reason>`."""
    return f"{op} {shown(where)}: {shown(reason)}"


class PathError(FsreplicaError):
    """Something cannot be done with one path, shown as `<op> <path>: <reason>`.

    Attributes:
        op: What was being done; set by each subclass ("reconcile", "state").
        path: The path concerned.
        reason: Why, in a few lowercase words.
    """

    op: ClassVar[str] = ""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return _line(self.op, self.path, self.reason)


class ReconcileError(PathError):
    """A reconcile cannot run at all (the source is missing, the trees overlap)."""

    op = "reconcile"


class RestoreError(PathError):
    """A restore cannot start (the target is not empty, the store cannot go back in time)."""

    op = "restore"


class StateError(PathError):
    """The state file cannot be opened or is in use by another process."""

    op = "state"


class SourceChangedError(PathError):
    """A source file changed while it was being read; the copy was discarded."""

    op = "read"

    def __init__(self, path: str) -> None:
        super().__init__(path, "changed while being copied")


class NotRegularFileError(PathError):
    """A source path is not a regular file (a FIFO, device, socket, directory or symlink).

    Attributes:
        kind: What it is instead.
    """

    op = "read"

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path, f"not a regular file ({kind})")
        self.kind = kind


class WatcherError(FsreplicaError):
    """A watcher could not do something with a path.

    Attributes:
        op: What was being done ("watch", "read", "scan", ...).
        path: The path concerned.
        err: The cause: an exception, or a short text.
    """

    def __init__(self, op: str, path: str | os.PathLike[str], err: BaseException | str) -> None:
        self.op = op
        self.path = os.fspath(path)
        self.err = err
        super().__init__(op, self.path, err)

    def __str__(self) -> str:
        err = self.err
        if isinstance(err, OSError) and err.strerror:
            reason = err.strerror
        else:
            reason = str(err)
        return _line(self.op, self.path, reason)


class RootLost(WatcherError):
    """A watched root was deleted, moved away, replaced or unmounted: it is no longer watched.

    Not logged by the watcher: the consumer decides whether that ends its work or whether it
    waits for the root to return (and calls `Watcher.watch()` again).
    """


class WatcherStopped(WatcherError):
    """The watcher was stopped; it can no longer watch anything."""

    def __init__(self, op: str = "watch", path: str | os.PathLike[str] = "") -> None:
        super().__init__(op, path, "watcher stopped")


class DestinationError(FsreplicaError):
    """A destination failed an operation.

    Attributes:
        op: The operation ("put", "delete", "stat", "list", ...).
        url: The destination URL or path concerned.
        reason: A short, secret-free description of the cause.
        retryable: True when trying again later may succeed (network, throttling).
    """

    def __init__(self, op: str, url: str, reason: str, *, retryable: bool = False) -> None:
        self.op = op
        self.url = url
        self.reason = reason
        self.retryable = retryable
        super().__init__(op, url, reason)

    def __str__(self) -> str:
        return _line(self.op, self.url, self.reason)


class ConditionFailed(DestinationError):
    """A conditional write found another version than the one it was to replace."""

    def __init__(self, url: str, reason: str = "changed since it was read") -> None:
        super().__init__("put", url, reason, retryable=False)


class PreflightError(DestinationError):
    """The destination cannot be used at all; its message is the one line to show the user.

    Raised by `open_destination` for a destination checked when it opens (S3: the bucket is
    missing, the credentials are refused, the endpoint cannot be reached).
    """

    def __init__(self, url: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__("preflight", url, reason, retryable=retryable)

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


class InternalError(FsreplicaError):
    """A thread of fsreplica stopped on an unexpected exception (a bug, or a broken system).

    What the thread did has stopped: the replicator ends (`Replicator.run` and `sync_all` raise
    this) rather than run on without it. Changes not yet done stay in the journal for the next
    start. The original exception is the `__cause__`, with its traceback.

    Attributes:
        thread: The name of the thread that stopped ("fsreplica-transfer-0", "fsreplica-log",
            "fsreplica-inotify", ...).
        error: The exception it stopped on.
    """

    def __init__(self, thread: str, error: BaseException) -> None:
        self.thread = thread
        self.error = error
        super().__init__(thread, error)
        self.__cause__ = error

    def __str__(self) -> str:
        text = str(self.error)
        cause = f"{type(self.error).__name__}: {text}" if text else type(self.error).__name__
        return f"internal error in {self.thread}: {cause}"


class InvalidKeyError(DestinationError):
    """A key that no destination accepts (absolute, empty, or with '.' / '..' components)."""

    def __init__(self, op: str, key: str) -> None:
        super().__init__(op, repr(key), "invalid key", retryable=False)
        self.key = key


class EncryptionKeyError(PathError):
    """Encryption is asked for but cannot be used; nothing was written.

    No key at the destination, a wrong passphrase or key, a key file others can read, or the
    `crypt` extra missing.

    Shown as `key <destination>: <reason>`; the CLI exits 2.
    """

    op = "key"


class IntegrityError(DestinationError):
    """An encrypted object fails to authenticate; nothing of it is given as plaintext.

    Altered, truncated, swapped, sealed under another data key, or older than expected. Never
    retryable.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__("decrypt", key, reason, retryable=False)
        self.key = key


class ControlError(FsreplicaError):
    """A request to the daemon was refused; `status` is the HTTP status it maps to.

    Attributes:
        reason: The one line to show.
        detail: Anything more a client can act on (a field name, the current value), or None.
    """

    status = 400

    def __init__(self, reason: str, *, detail: object = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(reason)

    def __str__(self) -> str:
        return self.reason


class PolicyNotFound(ControlError):
    """No policy (or job) by that id."""

    status = 404


class PolicyConflict(ControlError):
    """A policy by that id exists already (or the change conflicts with another policy)."""

    status = 409


class InvalidPolicy(ControlError):
    """A policy's fields are wrong (a bad id, type or value)."""

    status = 422


class ConfigError(FsreplicaError):
    """The daemon's config file cannot be used; one line `PATH:LINE: reason`.

    Attributes:
        path: The config file.
        line: The line concerned (1-based), or None when it is the whole file.
        reason: What is wrong.
    """

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(path, reason, line)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{shown(where)}: {shown(self.reason)}"


class ListenError(PathError):
    """The daemon's API cannot listen where it was told (`listen <socket>: <reason>`)."""

    op = "listen"


class TokenError(PathError):
    """The TCP listener's token file cannot be used (`token <path>: readable by group ...`)."""

    op = "token"


class DaemonUnreachable(FsreplicaError):
    """A client cannot reach the daemon's socket; one line naming the socket.

    Attributes:
        path: The socket.
        reason: Why (permission denied, no answer in time, not an fsreplica daemon).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return _line("api", self.path, self.reason)


class NoDaemon(DaemonUnreachable):
    """Nothing listens on the daemon's socket (it is missing, or its daemon died)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "no daemon")

    def __str__(self) -> str:
        return f"no daemon at {shown(self.path)}: start it with 'fsreplica daemon'"


class DaemonRefused(FsreplicaError):
    """The daemon answered a client's request with an error.

    Attributes:
        status: The HTTP status (404: no such policy or job; 409: conflict; 422: invalid).
        error: The daemon's one-line reason.
        detail: What more it said (a field name, the validation errors), or None.
    """

    def __init__(self, status: int, error: str, detail: object = None) -> None:
        self.status = status
        self.error = error
        self.detail = detail
        super().__init__(status, error)

    def __str__(self) -> str:
        return shown(self.error)
