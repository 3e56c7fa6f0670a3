"""`fsreplica status [SRC DEST]`: what a replication has done and has pending."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_common_options, exit_epilog
from fsreplica.cli._replication import add_pair, add_state, fail
from fsreplica.errors import FsreplicaError
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import State, default_state_path

SHOW_PENDING = 20


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="show what a replication has done and has pending",
        epilog=exit_epilog(
            ("0", "nothing failed"),
            ("1", "some files failed or deletions were refused (listed)"),
            ("2", "bad options, or no state for the pair, or the state file cannot be read"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pair(parser, optional=True)
    add_state(parser)
    add_common_options(parser)


def _when(value: str | None) -> str:
    if value is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(value)))


def _show(path: Path) -> bool:
    """Print one state file; True when it has failures."""
    with State(path, readonly=True) as state:
        journal = Journal(state)
        out = sys.stdout
        out.write(f"state: {shown(str(path))}\n")
        out.write(f"source: {shown(state.get_meta('source') or '')}\n")
        out.write(f"destination: {shown(state.get_meta('destination') or '')}\n")
        out.write(f"files replicated: {state.count_files()}\n")
        out.write(f"last reconcile: {_when(state.get_meta('last_reconcile'))}\n")
        summary = state.get_meta("last_summary")
        if summary:
            out.write(f"last sync: {_when(state.get_meta('last_sync'))}: {summary}\n")
        refused = state.get_meta("deletes_refused")
        if refused:
            out.write(f"deletes refused: {refused} (until a reconcile allows them)\n")
        pending = journal.pending(limit=SHOW_PENDING)
        out.write(f"pending: {journal.count()}\n")
        for entry in pending:
            moved = f" (from {shown(entry.moved_from)})" if entry.moved_from else ""
            out.write(f"  {entry.op} {shown(entry.key)}{moved}\n")
        failures = state.failures()
        out.write(f"failed: {len(failures)}\n")
        for failure in failures:
            out.write(
                f"  {shown(failure.key)}: {failure.op}: {shown(failure.reason)} "
                f"({failure.attempts}x, last {_when(str(failure.last_seen))})\n"
            )
        return bool(failures)


def run(args: argparse.Namespace) -> int:
    """Exit 0 with nothing failed, 1 when some files failed, 2 when there is no state."""
    if args.state:
        paths = [Path(args.state)]
    elif args.source and args.destination:
        # DEST as written: default_state_path reads it as open_destination would.
        paths = [default_state_path(os.path.abspath(args.source), args.destination)]
    elif args.source:
        fail("give both SRC and DEST, or --state")
        return EXIT_USAGE
    else:
        base = default_state_path("", "").parent
        paths = sorted(base.glob("*.db")) if base.is_dir() else []
        if not paths:
            fail(f"no replication state under {base}")
            return EXIT_USAGE
    failed = False
    for index, path in enumerate(paths):
        if index:
            sys.stdout.write("\n")
        try:
            failed |= _show(path)
        except FsreplicaError as exc:
            fail(exc)
            return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK
