"""Turning "encrypt or not" plus where the key is into the destination to use (CLI, daemon).

Importable without the `crypt` extra: a plain copy must be able to refuse an encrypted
destination, and `--encrypt` without the extra must fail closed with a hint, never copy plaintext.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsreplica.crypt import EXTRA_HINT, KEY_OBJECT
from fsreplica.errors import DestinationError, EncryptionKeyError

if TYPE_CHECKING:
    from collections.abc import Callable

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
    destination: Destination,
    *,
    encrypt: bool,
    key_file: str | None,
    interactive: bool = True,
    state: str | None = None,
) -> Destination:
    """With `encrypt`, `destination` unlocked and wrapped; without, itself unless encrypted.

    Closes `destination` when it raises.

    Args:
        destination: The destination as opened.
        encrypt: Whether it is encrypted.
        key_file: Where the key is (see `find_secrets`).
        interactive: Whether a passphrase may be asked for on the terminal.
        state: For reading (restore): a replicator's state file; an object whose content is
            not the version recorded there is refused (a replayed older version).

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

        expected = _recorded(state) if state is not None else None
        return open_encrypted(destination, secrets, expected=expected)
    except BaseException:
        destination.close()
        raise


def _recorded(path: str) -> Callable[[str], str | None]:
    """Each key's SHA-256 as the state file `path` records it (read whole, then closed).

    Raises:
        StateError: The state file cannot be read.
    """
    from fsreplica.replicate.state import State  # noqa: PLC0415

    with State(path, exclusive=False, readonly=True) as state:
        recorded = {rec.key: rec.sha256 for rec in state.iter_files()}
    return recorded.get


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
