"""Where the user's secrets come from: a key file, `FSREPLICA_PASSPHRASE`, a prompt.

A key file holds either age identities (lines `AGE-SECRET-KEY-1...`, `#` comments allowed, as
`age-keygen` writes them), a random key made by fsreplica (`FSREPLICA-KEY-1 ...`, see
`new_key_file`), or a passphrase (the whole file, without its final newline). It must
be a regular file that only its owner can read or write (0600 or 0400): a looser mode is
refused, as ssh refuses a private key others can read.
"""

from __future__ import annotations

import base64
import os
import stat
import sys

from fsreplica.errors import EncryptionKeyError

PASSPHRASE_ENV = "FSREPLICA_PASSPHRASE"  # noqa: S105 - the name of a variable
NEW_PASSPHRASE_ENV = "FSREPLICA_NEW_PASSPHRASE"  # noqa: S105 - likewise
_AGE_PREFIX = "AGE-SECRET-KEY-"


def read_key_file(path: str) -> tuple[bytes | None, tuple[str, ...]]:
    """Read a key file: (passphrase, age identities), one of them empty.

    Raises:
        EncryptionKeyError: Missing, not a regular file, readable or writable by others, empty.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise EncryptionKeyError(path, reason) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise EncryptionKeyError(path, "not a regular file")
        if st.st_mode & 0o077:
            raise EncryptionKeyError(
                path, f"others can use it (mode {st.st_mode & 0o777:04o}): chmod 600 it"
            )
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    text = data.decode("utf-8", "replace")
    identities = tuple(
        line.strip() for line in text.splitlines() if line.strip().startswith(_AGE_PREFIX)
    )
    if identities:
        return None, identities
    passphrase = data[:-1] if data.endswith(b"\n") else data
    if not passphrase:
        raise EncryptionKeyError(path, "empty key file")
    return passphrase, ()


def new_key_file(path: str) -> None:
    """Write a new key file holding a random 256-bit key (0600; never replaces a file).

    Written as `FSREPLICA-KEY-1 <base64url>`: a key of that form wraps the data key through
    HKDF, without scrypt's stretching (which only a guessable passphrase needs).

    Raises:
        EncryptionKeyError: The file exists or cannot be created.
    """
    secret = b"FSREPLICA-KEY-1 " + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=") + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise EncryptionKeyError(path, (exc.strerror or str(exc)).lower()) from None
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)


def passphrase_from_env_or_prompt(
    *, env: str = PASSPHRASE_ENV, prompt: str = "passphrase: ", confirm: bool = False
) -> bytes | None:
    """The passphrase in `env`, else one typed at a prompt on a terminal, else None.

    Raises:
        EncryptionKeyError: The two entries of a confirmed prompt differ, or it is empty.
    """
    value = os.environ.get(env)
    if value:
        return value.encode()
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    import getpass  # noqa: PLC0415 - only when a terminal is there to ask

    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise EncryptionKeyError("passphrase", "the two entries differ")
    if not first:
        raise EncryptionKeyError("passphrase", "empty")
    return first.encode()
