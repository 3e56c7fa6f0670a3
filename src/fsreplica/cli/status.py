"""`fsreplica status [ID | SRC DEST]`: what a replication has done and has pending.

With SRC DEST (or --state) it reads that pair's state file. Without them it asks the daemon
(`status ID`: one policy); when no daemon answers on the default socket, it reads every state
file, as a machine without a daemon has only those.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._api import NO_DAEMON_ROW, add_socket
from fsreplica.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_common_options, exit_epilog
from fsreplica.cli._replication import add_pair, add_state, fail
from fsreplica.daemon.control import POLICY_ID
from fsreplica.errors import FsreplicaError
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import State, default_state_path, holder

SHOW_PENDING = 20


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="show what a replication (or the daemon) has done and has pending",
        usage="%(prog)s [-h] [options] [ID | SRC DEST]",
        description="With SRC DEST or --state: that pair's state file. Otherwise the daemon's "
        "policies (ID: one of them), or when no daemon answers on the default socket, every "
        "state file.",
        epilog=exit_epilog(
            ("0", "nothing failed"),
            (
                "1",
                "some files failed or deletions were refused (listed); of a daemon: a policy "
                "is failing, its destination is down or its source gone",
            ),
            (
                "2",
                "bad options, no state for the pair, the state file cannot be read, "
                "--forget while a replicator runs, or the daemon has no policy ID",
            ),
            NO_DAEMON_ROW,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pair(parser, optional=True)
    add_state(parser)
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per pair (or for the daemon)"
    )
    add_socket(parser)
    parser.add_argument(
        "--forget",
        action="store_true",
        help="delete the state of SRC DEST (or --state): its record of what was replicated, "
        "its journal and its failures; refused while a replicator runs",
    )
    add_common_options(parser)


def _when(value: float | None) -> str:
    if value is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _read(path: Path) -> dict[str, Any]:
    """What the state file at `path` says, as plain data."""
    with State(path, readonly=True) as state:
        journal = Journal(state)
        pid = holder(path)
        return {
            "state": str(path),
            "source": state.get_meta("source") or "",
            "destination": state.get_meta("destination") or "",
            "running": pid is not None,
            "pid": pid,
            "files_replicated": state.count_files(),
            "last_reconcile": _number(state.get_meta("last_reconcile")),
            "last_sync": _number(state.get_meta("last_sync")),
            "last_summary": state.get_meta("last_summary"),
            "deletes_refused": state.get_meta("deletes_refused"),
            "pending": journal.count(),
            "pending_first": [
                {"op": e.op, "key": e.key, "moved_from": e.moved_from}
                for e in journal.pending(limit=SHOW_PENDING)
            ],
            "failed": [
                {
                    "key": f.key,
                    "op": f.op,
                    "reason": f.reason,
                    "attempts": f.attempts,
                    "last_seen": f.last_seen,
                }
                for f in state.failures()
            ],
        }


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)


def _print(info: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"state: {shown(info['state'])}\n")
    out.write(f"source: {shown(info['source'])}\n")
    out.write(f"destination: {shown(info['destination'])}\n")
    running = f"running (pid {info['pid']})" if info["running"] else "not running"
    out.write(f"replicator: {running}\n")
    out.write(f"files replicated: {info['files_replicated']}\n")
    out.write(f"last reconcile: {_when(info['last_reconcile'])}\n")
    if info["last_summary"]:
        out.write(f"last sync: {_when(info['last_sync'])}: {info['last_summary']}\n")
    if info["deletes_refused"]:
        out.write(f"deletes refused: {info['deletes_refused']} (until a reconcile allows them)\n")
    out.write(f"pending: {info['pending']}\n")
    for entry in info["pending_first"]:
        moved = f" (from {shown(entry['moved_from'])})" if entry["moved_from"] else ""
        out.write(f"  {entry['op']} {shown(entry['key'])}{moved}\n")
    out.write(f"failed: {len(info['failed'])}\n")
    for failure in info["failed"]:
        out.write(
            f"  {shown(failure['key'])}: {failure['op']}: {shown(failure['reason'])} "
            f"({failure['attempts']}x, last {_when(failure['last_seen'])})\n"
        )


def _forget(path: Path) -> int:
    """Delete the state file at `path` and its companions, unless a replicator holds it."""
    pid = holder(path)
    if pid is not None:
        fail(f"state {shown(str(path))}: in use by a running fsreplica (pid {pid}); stop it first")
        return EXIT_USAGE
    for suffix in ("", "-wal", "-shm", ".lock"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
    print(f"fsreplica: forgot {shown(str(path))}", file=sys.stderr)
    return EXIT_OK


def _paths(args: argparse.Namespace) -> list[Path] | None:
    """The state files the command line names, or None after saying why there are none."""
    if args.state:
        return [Path(args.state)]
    if args.source and args.destination:
        # DEST as written: default_state_path reads it as open_destination would.
        path = default_state_path(os.path.abspath(args.source), args.destination)
        if not path.exists():
            pair = f"{shown(args.source)} -> {shown(args.destination)}"
            fail(f"no state for {pair}: nothing was replicated between them")
            return None
        return [path]
    if args.source or args.forget:
        fail(f"{'--forget: ' if args.forget else ''}give both SRC and DEST, or --state")
        return None
    base = default_state_path("", "").parent
    paths = sorted(base.glob("*.db")) if base.is_dir() else []
    if not paths:
        fail(f"no replication state under {base}")
        return None
    return paths


def run(args: argparse.Namespace) -> int:
    """Exit 0 with nothing failed, 1 when some files failed, 2 when there is no state."""
    one_id = args.source is None or POLICY_ID.fullmatch(args.source) is not None
    if not args.state and not args.forget and not args.destination and one_id:
        from fsreplica.cli._status_daemon import daemon_status  # noqa: PLC0415

        code = daemon_status(args, args.source)
        if code is not None:
            return code
    elif args.socket is not None:
        fail("--socket: only without SRC DEST and --state (it asks the daemon)")
        return EXIT_USAGE
    paths = _paths(args)
    if paths is None:
        return EXIT_USAGE
    if args.forget:
        return _forget(paths[0])
    try:
        infos = [_read(path) for path in paths]
    except FsreplicaError as exc:
        fail(exc)
        return EXIT_USAGE
    for index, info in enumerate(infos):
        if args.json:
            print(json.dumps(info, ensure_ascii=True, default=_bytes_safe))
            continue
        if index:
            sys.stdout.write("\n")
        _print(info)
    failed = any(info["failed"] or info["deletes_refused"] for info in infos)
    return EXIT_FAILED if failed else EXIT_OK


def _bytes_safe(value: object) -> str:
    return str(value)
