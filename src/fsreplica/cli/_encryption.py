"""--encrypt and the key options of sync, replicate, verify (and `fsreplica key`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fsreplica.crypt._apply import apply_encryption, find_secrets

if TYPE_CHECKING:
    from fsreplica.crypt import Secrets
    from fsreplica.destinations import Destination


def add_key_options(
    parser: argparse.ArgumentParser, *, encrypt_flag: bool = True, state: bool = False
) -> None:
    """Add --encrypt (unless `encrypt_flag` is False) and --key-file (and --state, `state`)."""
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
    if state:
        group.add_argument(
            "--state",
            metavar="PATH",
            help="with --encrypt: the state file of the replication that wrote DEST; an object "
            "that authenticates but is not the version recorded there (an older one put back) "
            "is refused",
        )


def secrets_from(args: argparse.Namespace, *, what: str) -> Secrets:
    """The secrets given by --key-file, else $FSREPLICA_PASSPHRASE or a prompt.

    Raises:
        EncryptionKeyError: No key given anywhere, the key file is unusable, the extra missing.
    """
    return find_secrets(key_file=args.key_file, what=what)


def wrap(
    args: argparse.Namespace, destination: Destination, *, reading: bool = False
) -> Destination:
    """With --encrypt, `destination` unlocked and wrapped; without, itself unless encrypted.

    Closes `destination` when it raises (see `fsreplica.crypt._apply.apply_encryption`). With
    `reading` (restore), --state names the versions expected.
    """
    return apply_encryption(
        destination,
        encrypt=getattr(args, "encrypt", False),
        key_file=getattr(args, "key_file", None),
        state=getattr(args, "state", None) if reading else None,
    )
