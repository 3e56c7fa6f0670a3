"""Turning "encrypt or not" plus where the key is into the destination to use (CLI, daemon).

Importable without the `crypt` extra: a plain copy must be able to refuse an encrypted
destination, and `--encrypt` without the extra must fail closed with a hint, never copy plaintext.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsreplica.crypt import EXTRA_HINT, KEY_OBJECT
from fsreplica.errors import DestinationError, EncryptionKeyError

if TYPE_CHECKING:
    from fsreplica.crypt._keys import Secrets
    from fsreplica.destinations import Destination


def require_extra() -> None:
    """Raise EncryptionKeyError when the crypt extra (cryptography) cannot be imported."""
    try:
        import fsreplica.crypt._store  # noqa: F401, PLC0415 - needs cryptography
    except ImportError as exc:
        raise EncryptionKeyError(
            "--encrypt", f"encryption needs the crypt extra: {EXTRA_HINT} ({exc})"
        ) from None


def find_secrets(*, key_file: str | None, what: str, interactive: bool = True) -> Secrets:
    """The secrets in `key_file`, else `$FSREPLICA_PASSPHRASE`, else (`interactive`) a prompt.

    Args:
        key_file: A key file (see `_secrets.read_key_file`), or None.
        what: Names the destination in messages.
        interactive: Ask on the terminal when there is one.

    Raises:
        EncryptionKeyError: No key anywhere, the key file is unusable, or the extra is missing.
    """
    require_extra()
    from fsreplica.crypt._keys import Secrets  # noqa: PLC0415
    from fsreplica.crypt._secrets import (  # noqa: PLC0415
        PASSPHRASE_ENV,
        passphrase_from_env_or_prompt,
        read_key_file,
    )

    if key_file:
        passphrase, identities = read_key_file(key_file)
        return Secrets(passphrase=passphrase, identities=identities)
    if interactive:
        passphrase = passphrase_from_env_or_prompt()
    else:
        import os  # noqa: PLC0415

        passphrase = os.environ.get(PASSPHRASE_ENV, "").encode() or None
    if passphrase is None:
        raise EncryptionKeyError(
            what, "no key: give a key file, or set FSREPLICA_PASSPHRASE, or run on a terminal"
        )
    return Secrets(passphrase=passphrase)


def apply_encryption(
    destination: Destination, *, encrypt: bool, key_file: str | None, interactive: bool = True
) -> Destination:
    """With `encrypt`, `destination` unlocked and wrapped; without, itself unless encrypted.

    Closes `destination` when it raises.

    Raises:
        EncryptionKeyError: No key, a wrong key, the extra missing, no key object, or an
            encrypted destination used without `encrypt`.
        DestinationError: The key object cannot be read.
    """
    try:
        if not encrypt:
            refuse_encrypted(destination)
            return destination
        secrets = find_secrets(key_file=key_file, what=destination.url, interactive=interactive)
        from fsreplica.crypt._store import open_encrypted  # noqa: PLC0415

        return open_encrypted(destination, secrets)
    except BaseException:
        destination.close()
        raise


def refuse_encrypted(destination: Destination) -> None:
    """A plain copy into an encrypted destination would mix plaintext in: refuse it.

    Raises:
        EncryptionKeyError: `destination` holds a key object.
    """
    try:
        destination.stat(KEY_OBJECT)
    except (FileNotFoundError, DestinationError):
        return  # a store that refuses to say (S3 without ListBucket) is given the benefit
    raise EncryptionKeyError(destination.url, "the destination is encrypted: add --encrypt")
