"""`fsreplica sync SRC DEST`: one reconcile, then exit."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_options,
    exit_epilog,
    ignore_patterns,
    source_problem,
)
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.cli._progress import Progress
from fsreplica.cli._replication import (
    add_replication,
    fail,
    make_replicator,
    open_to_look,
)
from fsreplica.destinations import parse_location
from fsreplica.errors import FsreplicaError, InternalError
from fsreplica.filters import DEFAULT_IGNORE, IgnoreRules
from fsreplica.replicate.engine import Mode
from fsreplica.replicate.march import Plan
from fsreplica.replicate.reconcile import check_overlap
from fsreplica.replicate.report import excluded_note
from fsreplica.replicate.state import default_state_path


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="make DEST a mirror of SRC once, then exit",
        epilog=exit_epilog(
            ("0", "DEST mirrors SRC (with --dry-run: the plan was printed)"),
            (
                "1",
                "some files could not be replicated (each listed with its cause), or deletions "
                "were refused by the guard",
            ),
            ("2", "bad options, or SRC, DEST or the state file cannot be used"),
            ("130", "interrupted by SIGINT (Ctrl-C): in-flight copies finished, the rest not done"),
            ("143", "interrupted by SIGTERM, likewise"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_replication(parser)
    parser.add_argument(
        "-n", "--dry-run", action="store_true", help="print what would be done, change nothing"
    )
    add_common_options(parser)


def _print_plan(plan: Plan) -> None:
    """The dry run's list, sorted by key, then its refusal and counts."""
    lines = [(t.key, "check" if t.mode is Mode.ADOPT else "put", "") for t in plan.tasks]
    lines += [(key, "delete", "") for key in plan.deletes]
    for key, kind in plan.skipped:
        why = "symlink; --links to copy it" if kind == "symlink" else f"not a regular file: {kind}"
        lines.append((key, "skip", why))
    lines += [(key, "unreadable", cause) for key, cause in plan.unreadable]
    out = sys.stdout
    for key, action, why in sorted(
        lines, key=lambda line: line[0].encode("utf-8", "surrogateescape")
    ):
        out.write(f"{action}: {shown(key)}{f' ({shown(why)})' if why else ''}\n")
    if plan.refused:
        out.write(f"refuse: {plan.refused}\n")
    parts = [
        f"{len(plan.tasks)} to copy or check",
        f"{len(plan.deletes)} to delete",
        f"{plan.unchanged} unchanged",
    ]
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} skipped")
    if plan.unreadable:
        parts.append(f"{len(plan.unreadable)} unreadable")
    if plan.excluded:
        parts.append(excluded_note(plan.excluded))
    out.write(f"dry run: {', '.join(parts)}\n")


def _dry_run(args: argparse.Namespace) -> int:
    """Print what a sync would do; create, write and cache nothing (DEST missing: empty)."""
    if (problem := source_problem(args.source)) is not None:
        fail(problem)
        return EXIT_USAGE
    source = os.path.abspath(args.source)
    try:
        local = parse_location(args.destination).path
        if local is not None:
            check_overlap(source, local)
        destination = open_to_look(args, dry_run=True)
    except (ImportError, ValueError, FsreplicaError) as exc:
        fail(exc)
        return EXIT_USAGE
    try:
        dest_url = args.destination if local is not None else destination.url
        if args.links and local is None:
            fail(f"--links: only for local destinations ({destination.url} cannot store symlinks)")
            return EXIT_USAGE
        from fsreplica.replicate.dryrun import dry_plan  # noqa: PLC0415 - only for --dry-run

        plan = dry_plan(
            source,
            destination,
            state=args.state or default_state_path(source, dest_url),
            rules=IgnoreRules(ignore_patterns(args)),
            defaults=None if args.no_default_excludes else IgnoreRules(DEFAULT_IGNORE),
            links=args.links,
            delete=not args.no_delete,
            max_delete=args.max_delete,
            checksum=args.checksum,
        )
    except FsreplicaError as exc:
        fail(exc)
        return EXIT_USAGE
    finally:
        destination.close()
    _print_plan(plan)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Sync once; exit 0 when DEST mirrors SRC, 1 when something failed, 2 on usage errors."""
    if args.dry_run:
        return _dry_run(args)
    replicator = make_replicator(args)
    if replicator is None:
        return EXIT_USAGE
    with replicator:
        interrupted = _on_termination(replicator.interrupt)
        try:
            # Copies start while the trees are walked: the total grows as they are.
            with Progress.for_sync(replicator.progress):
                report = replicator.sync_all()
        except InternalError:
            raise
        except FsreplicaError as exc:  # SRC unreadable, DEST cannot be listed
            fail(exc)
            return EXIT_USAGE
    for key, cause in report.failed:
        fail(f"{shown(args.source.rstrip('/') + '/' + key)}: {shown(cause)}")
    if report.refused and not replicator.log.isEnabledFor(logging.ERROR):
        # The reconcile logged the refusal at ERROR as it made it; repeat it here only when
        # -qq silenced that line, so the reason shows exactly once at every verbosity.
        fail(f"refused to delete: {report.refused}")
    signum = interrupted()
    if signum is not None:
        # Whatever the report says, the sync did not finish: never exit 0 on an interruption.
        print(
            f"fsreplica: interrupted by {signal.Signals(signum).name}: {report.summary()}",
            file=sys.stderr,
        )
        return 128 + signum
    if not args.quiet:
        print(f"fsreplica: {report.summary()}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
