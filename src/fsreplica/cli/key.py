"""`fsreplica key init|rotate|show DEST`: the data key of an encrypted destination."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from fsreplica.cli._common import EXIT_OK, EXIT_USAGE, add_common_options, exit_epilog
from fsreplica.cli._encryption import add_key_options, secrets_from
from fsreplica.cli._replication import add_s3, destination_options, fail
from fsreplica.crypt._apply import require_extra
from fsreplica.errors import FsreplicaError

if TYPE_CHECKING:
    from fsreplica.crypt import Secrets
    from fsreplica.destinations import Destination


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand and its own subcommands."""
    parser = sub.add_parser(
        name,
        help="create, re-wrap or show the data key of an encrypted destination",
        description="Each encrypted destination has one random data key, kept there wrapped by "
        "a passphrase (or key file) and/or age recipients. 'init' creates it, 'rotate' wraps "
        "it anew (nothing else is rewritten), 'show' says how it is wrapped.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    epilog = exit_epilog(
        ("0", "done"),
        ("2", "bad options, a wrong key, or DEST cannot be used; nothing was written"),
    )
    init = actions.add_parser(
        "init",
        help="create the data key of an empty DEST",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dest(init)
    _add_wraps(init)
    init.add_argument(
        "--encrypt-names",
        action="store_true",
        help="seal each name too (AES-SIV; equal names still encrypt equally)",
    )
    rotate = actions.add_parser(
        "rotate",
        help="wrap the data key for a new passphrase, key file or recipients",
        description="Unlocks DEST with --key-file (else $FSREPLICA_PASSPHRASE or a prompt) "
        "and replaces every wrap by the new ones: afterwards the old key no longer opens it.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dest(rotate)
    add_key_options(rotate, encrypt_flag=False)
    _add_wraps(rotate, new=True)
    show = actions.add_parser(
        "show", help="the key id and how the data key is wrapped (no secret)", epilog=epilog
    )
    _add_dest(show)


def _add_dest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("destination", metavar="DEST", help="a path or URL")
    add_s3(parser)
    add_common_options(parser)


def _add_wraps(parser: argparse.ArgumentParser, *, new: bool = False) -> None:
    prefix = "new-" if new else ""
    group = parser.add_argument_group("what the data key is wrapped for")
    group.add_argument(
        f"--{prefix}key-file",
        dest="wrap_key_file",
        metavar="PATH",
        help="a key file (0600): a passphrase, or age identities; a missing file is created "
        "with a random secret",
    )
    group.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="AGE1...",
        help="an age X25519 recipient (repeat for several)",
    )
    group.add_argument(
        "--scrypt-log-n",
        type=int,
        default=None,
        metavar="N",
        help="scrypt cost of a passphrase wrap, 2**N (default 17: 128 MiB, about 0.5 s)",
    )


def _wraps(args: argparse.Namespace, *, env: str) -> Secrets:
    """The secrets to wrap the data key for, from the options (a passphrase asked last)."""
    from fsreplica.crypt import (  # noqa: PLC0415
        DEFAULT_SCRYPT_LOG_N,
        Secrets,
        check_recipient,
        new_key_file,
        passphrase_from_env_or_prompt,
        read_key_file,
    )

    recipients = [check_recipient(text) for text in args.recipient]
    passphrase = None
    if args.wrap_key_file:
        if not os.path.lexists(args.wrap_key_file):
            new_key_file(args.wrap_key_file)
        passphrase, identities = read_key_file(args.wrap_key_file)
        recipients += _recipients_of(identities)
    elif not recipients:
        passphrase = passphrase_from_env_or_prompt(env=env, prompt="new passphrase: ", confirm=True)
        if passphrase is None:
            raise ValueError(f"nothing to wrap the key for: give --key-file, --recipient or ${env}")
    log_n = args.scrypt_log_n if args.scrypt_log_n is not None else DEFAULT_SCRYPT_LOG_N
    return Secrets(passphrase=passphrase, recipients=tuple(recipients), scrypt_log_n=log_n)


def _recipients_of(identities: tuple[str, ...]) -> list[str]:
    import pyrage  # type: ignore[import-untyped]  # noqa: PLC0415 - only for age identities

    return [str(pyrage.x25519.Identity.from_str(text).to_public()) for text in identities]


def _open(args: argparse.Namespace, *, create: bool) -> Destination:
    from fsreplica.destinations import open_destination, parse_location  # noqa: PLC0415

    options = destination_options(args)
    if parse_location(args.destination).path is not None and not create:
        options["create"] = False
    return open_destination(args.destination, **options)


def run(args: argparse.Namespace) -> int:
    """Run `key init`, `key rotate` or `key show`."""
    try:
        require_extra()
        if args.action == "init":
            return _init(args)
        if args.action == "rotate":
            return _rotate(args)
        return _show(args)
    except (ImportError, ValueError, FsreplicaError) as exc:
        fail(exc)
        return EXIT_USAGE


def _init(args: argparse.Namespace) -> int:
    from fsreplica.crypt import PASSPHRASE_ENV, init_key  # noqa: PLC0415

    wraps = _wraps(args, env=PASSPHRASE_ENV)
    destination = _open(args, create=True)
    try:
        keyring = init_key(destination, wraps, encrypt_names=args.encrypt_names)
    finally:
        destination.close()
    if not args.quiet:
        print(f"fsreplica: key {keyring.key_id} created at {destination.url}", file=sys.stderr)
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    from fsreplica.crypt import NEW_PASSPHRASE_ENV, rewrap, unlock_destination  # noqa: PLC0415

    destination = _open(args, create=False)
    try:
        # Unlocked first: a wrong current key creates no new key file and asks for nothing.
        keyring = unlock_destination(destination, secrets_from(args, what=destination.url))
        rewrap(destination, keyring, _wraps(args, env=NEW_PASSPHRASE_ENV))
    finally:
        destination.close()
    if not args.quiet:
        print(f"fsreplica: key {keyring.key_id} wrapped anew at {destination.url}", file=sys.stderr)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from fsreplica.crypt import read_key_object  # noqa: PLC0415

    destination = _open(args, create=False)
    try:
        document = read_key_object(destination)
    finally:
        destination.close()
    if document is None:
        fail(f"key {destination.url}: no encryption key at the destination")
        return EXIT_USAGE
    doc = json.loads(document)
    wraps = ", ".join(str(wrap.get("kind")) for wrap in doc.get("wraps", []))
    names = "encrypted" if doc.get("encrypt_names") else "in clear"
    print(f"key id: {doc.get('key_id')}\nwrapped by: {wraps}\nnames: {names}")
    return EXIT_OK
