"""`fsreplica sync SRC DEST`: one reconcile, then exit."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_common_options
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.cli._progress import Progress
from fsreplica.cli._replication import add_replication, fail, make_replicator
from fsreplica.errors import FsreplicaError
from fsreplica.replicate.reconcile import Plan


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(name, help="make DEST a mirror of SRC once, then exit")
    add_replication(parser)
    parser.add_argument(
        "-n", "--dry-run", action="store_true", help="print what would be done, change nothing"
    )
    add_common_options(parser)


def _print_plan(plan: Plan) -> None:
    out = sys.stdout
    for task in plan.tasks:
        out.write(f"{'check' if task.mode == 'adopt' else 'put'}: {shown(task.key)}\n")
    for key in plan.deletes:
        out.write(f"delete: {shown(key)}\n")
    if plan.refused:
        out.write(f"refuse: {plan.refused}\n")
    out.write(
        f"dry run: {len(plan.tasks)} to copy or check, {len(plan.deletes)} to delete, "
        f"{plan.unchanged} unchanged\n"
    )


def run(args: argparse.Namespace) -> int:
    """Sync once; exit 0 when DEST mirrors SRC, 1 when something failed, 2 on usage errors."""
    replicator = make_replicator(args)
    if replicator is None:
        return EXIT_USAGE
    with replicator:
        _on_termination(replicator.interrupt)
        try:
            plan = replicator.plan()
        except FsreplicaError as exc:
            fail(exc)
            return EXIT_USAGE
        if args.dry_run:
            _print_plan(plan)
            return EXIT_OK
        with Progress.for_plan(replicator.progress, plan):
            report = replicator.sync_all(plan)
    for key, cause in report.failed:
        fail(f"{shown(args.source.rstrip('/') + '/' + key)}: {shown(cause)}")
    if report.refused and not replicator.log.isEnabledFor(logging.ERROR):
        # The reconcile logged the refusal at ERROR as it made it; repeat it here only when
        # -qq silenced that line, so the reason shows exactly once at every verbosity.
        fail(f"refused to delete: {report.refused}")
    if not args.quiet:
        print(f"fsreplica: {report.summary()}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
