"""`fsreplica status [ID]` when a daemon runs: its policies' status, through its API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._api import (
    EXIT_FAILED,
    EXIT_OK,
    call,
    client,
    print_json,
    table,
    when,
    yes_no,
)
from fsreplica.daemon.client import NoDaemon, segment

TROUBLED = {"destination-down", "source-gone", "deletes-refused", "failed"}
"""States in which a policy is not replicating as asked (exit 1)."""


def _troubled(policy: dict[str, Any]) -> bool:
    return policy["state"] in TROUBLED or policy["failures"] > 0


def _lag(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds else "-"


def _print_daemon(status: dict[str, Any]) -> None:
    out = sys.stdout
    watches = str(status["watches"])
    if status.get("watch_limit"):
        watches += f" of {status['watch_limit']}"
    out.write(f"daemon: fsreplica {status['version']}, up since {when(status['started'])}\n")
    out.write(f"config: {shown(status['config'])}\n")
    out.write(f"ready: {yes_no(status['ready'])}\n")
    out.write(f"inotify watches: {watches}\n\n")
    rows = [
        (
            p["id"],
            p["state"],
            p["pending"],
            _lag(p["lag"]),
            p["files"],
            p["failures"],
            when(p["last_reconcile"]),
        )
        for p in status["policies"]
    ]
    table(("POLICY", "STATE", "PENDING", "LAG", "FILES", "FAILED", "LAST RECONCILE"), rows)
    for policy in status["policies"]:
        if policy.get("detail"):
            out.write(f"{shown(policy['id'])}: {shown(policy['detail'])}\n")


def _print_policy(policy: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"policy: {shown(policy['id'])}\n")
    out.write(f"state: {policy['state']}\n")
    if policy.get("detail"):
        out.write(f"detail: {shown(policy['detail'])}\n")
    out.write(f"destination up: {yes_no(policy['destination_up'])}\n")
    out.write(f"pending: {policy['pending']} (oldest {_lag(policy['lag'])})\n")
    out.write(f"replicated: {policy['files']} files, {policy['bytes']} bytes, ")
    out.write(f"{policy['deletes']} deletions\n")
    out.write(f"last reconcile: {when(policy['last_reconcile'])}")
    if policy.get("last_reconcile_result"):
        out.write(f": {shown(policy['last_reconcile_result'])}")
    out.write("\n")
    out.write(f"watcher overflows: {policy['overflows']}\n")
    out.write(f"failed: {policy['failures']}\n")
    for failure in policy["failing"]:
        out.write(f"  {shown(failure['path'])}: {failure['op']}: {shown(failure['reason'])}\n")


class _ReadStateFiles(Exception):
    """No daemon on the default socket: `status` reads the state files instead."""


def daemon_status(args: argparse.Namespace, policy_id: str | None) -> int | None:
    """Show the daemon's status (or one policy's); exit 1 when a policy is in trouble.

    Returns:
        The exit code, or None when no daemon answers on the default socket and the command
        should read the state files instead (only when neither ID nor --socket was given).
    """
    api = client(args)

    def show() -> int:
        if policy_id is not None:
            path = f"/policies/{segment(policy_id)}/status"
            return _show_policy(args, api.get(path))
        try:
            status = api.get("/status")
        except NoDaemon:
            if args.socket is None:
                raise _ReadStateFiles from None
            raise
        return _show_daemon(args, status)

    try:
        return call(show)
    except _ReadStateFiles:
        return None


def _show_daemon(args: argparse.Namespace, status: dict[str, Any]) -> int:
    if args.json:
        print_json(status)
    else:
        _print_daemon(status)
    return EXIT_FAILED if any(_troubled(p) for p in status["policies"]) else EXIT_OK


def _show_policy(args: argparse.Namespace, policy: dict[str, Any]) -> int:
    if args.json:
        print_json(policy)
    else:
        _print_policy(policy)
    return EXIT_FAILED if _troubled(policy) else EXIT_OK
