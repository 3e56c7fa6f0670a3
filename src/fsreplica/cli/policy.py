"""`fsreplica policy list|show|add|remove|enable|disable`: the daemon's policies, through its API.

The daemon writes every change to its config file (atomically, keeping its comments) before it
answers, so a change made here survives a restart.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._api import (
    EXIT_OK,
    NO_DAEMON_ROW,
    REFUSED_ROW,
    add_json,
    add_socket,
    call,
    client,
    print_json,
    say,
    table,
    yes_no,
)
from fsreplica.cli._common import add_common_options, add_debounce, at_least, exit_epilog
from fsreplica.daemon.client import DaemonClient, segment
from fsreplica.daemon.config import parse_duration
from fsreplica.destinations._location import parse_location


def duration(text: str) -> float:
    """An argparse type: seconds, or a duration as the config file spells it ("15m", "1h30m")."""
    try:
        value = parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (90, 90s, 15m, 1h30m)")
    return value


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand and its actions."""
    epilog = exit_epilog(("0", "done"), REFUSED_ROW, NO_DAEMON_ROW)
    parser = sub.add_parser(
        name,
        help="list, show, add, remove, enable or disable the daemon's policies",
        description="The policies of a running `fsreplica daemon`, through its API. Changes "
        "are written to its config file before they are acknowledged.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, *, with_id: bool = True) -> argparse.ArgumentParser:
        child: argparse.ArgumentParser = actions.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if with_id:
            child.add_argument("id", metavar="ID", help="the policy's id")
        add_socket(child)
        add_common_options(child)
        return child

    add_json(action("list", "every policy, in config order", with_id=False), "the policies")
    add_json(action("show", "one policy's fields"), "the policy")
    add = action("add", "add a policy and start it (unless --disabled)")
    add.add_argument("source", metavar="SRC", help="the directory to replicate")
    add.add_argument("destination", metavar="DEST", help="a path or URL (file://, s3://)")
    _add_policy_options(add)
    add_json(add, "the policy added")
    action("remove", "stop a policy and remove it (its destination is left as it is)")
    add_json(action("enable", "enable a policy (it starts)"), "the policy")
    add_json(action("disable", "disable a policy (it stops; kept in the config)"), "the policy")


def _add_policy_options(parser: argparse.ArgumentParser) -> None:
    """The options of `policy add`: those of sync and replicate that a policy keeps."""
    parser.add_argument("--disabled", action="store_true", help="add it without starting it")
    parser.add_argument(
        "--scan-interval",
        type=duration,
        metavar="DURATION",
        help="time between full reconciles: seconds, or 15m, 1h, 1h30m (default 1h)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="glob to ignore, on top of the defaults (repeatable)",
    )
    parser.add_argument("--transfers", type=at_least(1), metavar="N", help="parallel copies")
    add_debounce(parser)
    parser.add_argument(
        "--no-delete", action="store_true", help="keep files at DEST that are gone from SRC"
    )
    parser.add_argument(
        "--max-delete",
        type=at_least(-1),
        metavar="N",
        help="allow a reconcile to delete up to N files (-1: no limit)",
    )
    parser.add_argument(
        "-l", "--links", action="store_true", help="copy symlinks as symlinks (local DEST)"
    )
    parser.add_argument(
        "-c", "--checksum", action="store_true", help="compare content at each reconcile"
    )
    parser.add_argument("--state", metavar="PATH", help="state file (default: one per pair)")
    crypt = parser.add_argument_group("encryption (docs/encryption.md)")
    crypt.add_argument(
        "--encrypt",
        action="store_true",
        help="DEST holds ciphertext only (policy mode 'transparent'; its key made once by "
        "'fsreplica key init'); the daemon reads the key from --key-file, else its "
        "$FSREPLICA_PASSPHRASE",
    )
    crypt.add_argument("--key-file", metavar="PATH", help="the key file (mode 0600)")
    group = parser.add_argument_group("s3:// destinations")
    group.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")
    group.add_argument("--region", metavar="NAME", help="signing region")


def _policy_body(args: argparse.Namespace) -> dict[str, Any]:
    """The policy `policy add` asks for: the options given, paths made absolute."""
    destination = args.destination
    if "://" not in destination:
        destination = parse_location(destination).path or destination
    body: dict[str, Any] = {
        "id": args.id,
        "source": os.path.abspath(args.source),
        "destination": destination,
        "enabled": not args.disabled,
        "exclude": args.exclude,
        "debounce": args.debounce,
        "delete": not args.no_delete,
        "links": args.links,
        "checksum": args.checksum,
    }
    optional = {
        "scan_interval": args.scan_interval,
        "transfers": args.transfers,
        "max_delete": args.max_delete,
        "state": os.path.abspath(args.state) if args.state else None,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
        "mode": "transparent" if args.encrypt else None,
        "key_file": os.path.abspath(args.key_file) if args.key_file else None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(shown(str(item)) for item in value) or "-"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return yes_no(value)
    return shown(str(value))


def _show(policy: dict[str, Any]) -> None:
    for key, value in policy.items():
        sys.stdout.write(f"{key}: {_text(value)}\n")


def _list(api: DaemonClient, args: argparse.Namespace) -> int:
    policies = api.get("/policies")
    if args.json:
        print_json(policies)
        return EXIT_OK
    states = {entry["id"]: entry["state"] for entry in api.get("/status")["policies"]}
    rows = [
        (p["id"], yes_no(p["enabled"]), states.get(p["id"], "-"), p["source"], p["destination"])
        for p in policies
    ]
    table(("ID", "ENABLED", "STATE", "SOURCE", "DESTINATION"), rows)
    return EXIT_OK


def _one(args: argparse.Namespace, policy: dict[str, Any], done: str | None) -> int:
    if args.json:
        print_json(policy)
    elif done is None:
        _show(policy)
    if done is not None:
        say(f"policy {shown(policy['id'])} {done}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Do the action; exit 0, 2 when the daemon refuses, 69 when no daemon answers."""
    api = client(args)

    def act() -> int:
        path = f"/policies/{segment(args.id)}" if hasattr(args, "id") else "/policies"
        if args.action == "list":
            return _list(api, args)
        if args.action == "show":
            return _one(args, api.get(path), None)
        if args.action == "add":
            added = api.post("/policies", _policy_body(args))
            return _one(args, added, "added" if added["enabled"] else "added (disabled)")
        if args.action == "remove":
            api.delete(path)
            say(f"policy {shown(args.id)} removed (its destination is left as it is)")
            return EXIT_OK
        enabled = args.action == "enable"
        changed = api.patch(path, {"enabled": enabled})
        return _one(args, changed, "enabled" if enabled else "disabled")

    return call(act)
