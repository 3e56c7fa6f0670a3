"""--encrypt and the key options of sync, replicate, verify (and `fsreplica key`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fsreplica.crypt import EXTRA_HINT, KEY_OBJECT
from fsreplica.errors import DestinationError, EncryptionKeyError

if TYPE_CHECKING:
    from fsreplica.crypt import Secrets
    from fsreplica.destinations import Destination


def add_key_options(parser: argparse.ArgumentParser, *, encrypt_flag: bool = True) -> None:
    """Add --encrypt (unless `encrypt_flag` is False) and --key-file."""
    group = parser.add_argument_group("encryption (docs/encryption.md)")
    if encrypt_flag:
        group.add_argument(
            "--encrypt",
            action="store_true",
            help="DEST holds ciphertext only (its key made once by 'fsreplica key init'); the "
            "key comes from --key-file, else $FSREPLICA_PASSPHRASE, else a prompt",
        )
    group.add_argument(
        "--key-file",
        metavar="PATH",
        help="a file (mode 0600) holding the passphrase, or age identities (AGE-SECRET-KEY-1...)",
    )


def crypt_module() -> None:
    """Fail closed when the crypt extra is missing: encryption is never silently dropped."""
    try:
        import fsreplica.crypt._store  # noqa: F401, PLC0415 - needs cryptography
    except ImportError as exc:
        raise EncryptionKeyError(
            "--encrypt", f"encryption needs the crypt extra: {EXTRA_HINT} ({exc})"
        ) from None


def secrets_from(args: argparse.Namespace, *, what: str) -> Secrets:
    """The secrets given by --key-file, else $FSREPLICA_PASSPHRASE or a prompt.

    Args:
        args: The parsed command line.
        what: Names the destination in messages.

    Raises:
        EncryptionKeyError: No key given anywhere, or the key file is unusable.
    """
    crypt_module()
    from fsreplica.crypt import (  # noqa: PLC0415
        Secrets,
        passphrase_from_env_or_prompt,
        read_key_file,
    )

    if args.key_file:
        passphrase, identities = read_key_file(args.key_file)
        return Secrets(passphrase=passphrase, identities=identities)
    passphrase = passphrase_from_env_or_prompt()
    if passphrase is None:
        raise EncryptionKeyError(
            what, "no key: give --key-file, or set FSREPLICA_PASSPHRASE, or run on a terminal"
        )
    return Secrets(passphrase=passphrase)


def wrap(args: argparse.Namespace, destination: Destination) -> Destination:
    """With --encrypt, `destination` unlocked and wrapped; without, itself unless encrypted.

    Closes `destination` when it raises.

    Raises:
        EncryptionKeyError: No key, a wrong key, the extra missing, or an encrypted
            destination used without --encrypt.
        DestinationError: The key object cannot be read.
    """
    try:
        if not getattr(args, "encrypt", False):
            _refuse_encrypted(destination)
            return destination
        secrets = secrets_from(args, what=destination.url)
        from fsreplica.crypt import open_encrypted  # noqa: PLC0415

        return open_encrypted(destination, secrets)
    except BaseException:
        destination.close()
        raise


def _refuse_encrypted(destination: Destination) -> None:
    """A plain copy into an encrypted destination would mix plaintext in: refuse it."""
    try:
        destination.stat(KEY_OBJECT)
    except (FileNotFoundError, DestinationError):
        return  # a store that refuses to say (S3 without ListBucket) is given the benefit
    raise EncryptionKeyError(destination.url, "the destination is encrypted: add --encrypt")
