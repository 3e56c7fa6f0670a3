"""Keeping the key object at a destination: create it, read it to unlock, re-wrap it."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from fsreplica.crypt import KEY_OBJECT
from fsreplica.crypt._destination import CryptDestination, encrypted
from fsreplica.crypt._keys import Keyring, Secrets, UnlockError, new_keyring, unlock
from fsreplica.destinations._base import Destination, features_of
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import EncryptionKeyError

if TYPE_CHECKING:
    from fsreplica.crypt._destination import Expected


def read_key_object(inner: Destination) -> bytes | None:
    """The key object stored at `inner`, or None when there is none.

    Raises:
        EncryptionKeyError: `inner` cannot be read (no "read" capability).
        DestinationError: Reading failed.
    """
    read = features_of(inner).read
    if read is None:
        raise EncryptionKeyError(inner.url, "this destination cannot be read back: no encryption")
    try:
        return b"".join(read(KEY_OBJECT))
    except FileNotFoundError:
        return None


def _write_key_object(inner: Destination, document: bytes) -> None:
    # The contract puts files: write it to a private temporary file first (0600 in 0700).
    with tempfile.TemporaryDirectory(prefix="fsreplica-key-") as tmp:
        path = os.path.join(tmp, KEY_OBJECT)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, document)
        finally:
            os.close(fd)
        with SourceFile(path) as source:
            inner.put(KEY_OBJECT, source)


def init_key(inner: Destination, secrets: Secrets, *, encrypt_names: bool = False) -> Keyring:
    """Create the data key of `inner`, wrapped for `secrets`; return it unwrapped.

    Raises:
        EncryptionKeyError: `inner` has a key already, or holds objects (encrypt an empty one).
        ValueError: `secrets` give nothing to wrap for, or a recipient is malformed.
        DestinationError: Writing failed.
    """
    if read_key_object(inner) is not None:
        raise EncryptionKeyError(inner.url, "the destination has a key already (key rotate?)")
    if next(iter(inner.list()), None) is not None:
        raise EncryptionKeyError(
            inner.url, "the destination holds files already: encrypt into an empty one"
        )
    keyring = new_keyring(encrypt_names=encrypt_names)
    _write_key_object(inner, keyring.document(secrets))
    return keyring


def unlock_destination(inner: Destination, secrets: Secrets) -> Keyring:
    """Unwrap the data key of `inner` with `secrets`.

    Raises:
        EncryptionKeyError: No key object, or it does not open with `secrets`.
        DestinationError: Reading failed.
    """
    document = read_key_object(inner)
    if document is None:
        raise EncryptionKeyError(
            inner.url, "no encryption key at the destination (create one: fsreplica key init)"
        )
    try:
        return unlock(document, secrets)
    except UnlockError as exc:
        raise EncryptionKeyError(inner.url, str(exc)) from None


def open_encrypted(
    inner: Destination, secrets: Secrets, *, expected: Expected | None = None
) -> CryptDestination:
    """Unlock `inner` with `secrets` and wrap it (see `encrypted`, and its `expected`).

    Raises:
        EncryptionKeyError: See `unlock_destination`.
    """
    return encrypted(inner, unlock_destination(inner, secrets), expected=expected)


def rotate_key(inner: Destination, current: Secrets, new: Secrets) -> Keyring:
    """Re-wrap the data key of `inner` for `new` (unlocked with `current`); no data is rewritten.

    The wraps of `current` are replaced: afterwards only `new` opens the destination.

    Raises:
        EncryptionKeyError: See `unlock_destination`.
        ValueError: `new` gives nothing to wrap for.
        DestinationError: Writing failed.
    """
    keyring = unlock_destination(inner, current)
    rewrap(inner, keyring, new)
    return keyring


def rewrap(inner: Destination, keyring: Keyring, new: Secrets) -> None:
    """Replace the key object of `inner` by one wrapping `keyring`'s data key for `new`.

    Raises:
        ValueError: `new` gives nothing to wrap for.
        DestinationError: Writing failed.
    """
    _write_key_object(inner, keyring.document(new))


def is_encrypted(inner: Destination) -> bool:
    """Whether `inner` holds a key object (a plain copy into it must be refused)."""
    try:
        inner.stat(KEY_OBJECT)
    except FileNotFoundError:
        return False
    return True
