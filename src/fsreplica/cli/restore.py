"""`fsreplica restore SRC_URL TARGET_DIR`: fetch a replica back into a local directory."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_options,
    at_least,
    exit_epilog,
    on_termination,
)
from fsreplica.cli._encryption import add_key_options, wrap
from fsreplica.cli._progress import Progress
from fsreplica.cli._replication import add_s3, destination_options, fail, object_scheme
from fsreplica.destinations import Destination, open_destination, parse_location
from fsreplica.errors import FsreplicaError
from fsreplica.replicate.report import SyncReport
from fsreplica.restore import DEFAULT_TRANSFERS, Overwrite, Restore, RestoreReport


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="fetch what a destination holds back into a local directory",
        description="Restore files (content, mtime, mode) from a destination fsreplica\n"
        "replicated to: a local path or file:// URL, s3://, az://, any registered scheme.\n"
        "SRC_URL may point below the replica's root: the keys below it are restored.",
        epilog=exit_epilog(
            ("0", "everything restored (with --dry-run: the plan was printed)"),
            (
                "1",
                "some files were not restored: one line each on stderr "
                "(fsreplica: restore KEY: REASON), the others were",
            ),
            (
                "2",
                "bad options, SRC_URL cannot be read (or cannot go back in time for --at), "
                "TARGET_DIR is not a directory or is not empty without --force",
            ),
            ("130", "interrupted by SIGINT: files in flight finished; run again to resume"),
            ("143", "interrupted by SIGTERM, likewise"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # `destination`: the name the s3 options' check (`destination_options`) reads.
    parser.add_argument("destination", metavar="SRC_URL", help="the replica to restore from")
    parser.add_argument("target", metavar="TARGET_DIR", help="the local directory to restore to")
    parser.add_argument(
        "--force", action="store_true", help="restore into a TARGET_DIR that is not empty"
    )
    parser.add_argument(
        "--overwrite",
        choices=[o.value for o in Overwrite],
        default=Overwrite.IF_CHANGED.value,
        help="with --force, what becomes of a file TARGET_DIR has: keep it (never), replace it "
        "when it differs by hash where the store recorded one, else by size and mtime "
        "(if-changed, the default), or replace it (always)",
    )
    parser.add_argument(
        "--prefix", default="", metavar="PREFIX", help="only keys that start with PREFIX"
    )
    parser.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="restore only keys matching this glob (repeatable; as sync's --exclude matches)",
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN", help="glob to leave out"
    )
    parser.add_argument(
        "-n", "--dry-run", action="store_true", help="print what would be done, change nothing"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="re-read each file written from the disk and compare hashes; check files "
        "already in place against the SHA-256 the store recorded",
    )
    parser.add_argument(
        "--transfers",
        type=at_least(1),
        default=DEFAULT_TRANSFERS,
        metavar="N",
        help=f"objects fetched at once (default {DEFAULT_TRANSFERS})",
    )
    parser.add_argument(
        "--at",
        type=point_in_time,
        metavar="TIME",
        help="restore each key as it was at TIME (ISO 8601, local time without a zone; or "
        "Unix seconds); only from a store that keeps versions (an S3 versioned bucket)",
    )
    parser.add_argument(
        "--no-links",
        action="store_true",
        help="do not restore the symlinks a local replica keeps (--links) as symlinks",
    )
    add_s3(parser)
    add_key_options(parser, state=True)
    add_common_options(parser)


def point_in_time(text: str) -> datetime:
    """An argparse type: ISO 8601 (local time without a zone) or Unix seconds."""
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (ISO 8601 such as 2026-12-04T21:30:00Z, or Unix seconds)"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def open_source(args: argparse.Namespace) -> Destination:
    """Open SRC_URL to read it: a local replica is never created, a bucket never written.

    Raises:
        ValueError: Bad options or URL.
        ImportError: The destination's extra is not installed.
        FsreplicaError: The destination cannot be opened.
    """
    options = destination_options(args)
    location = parse_location(args.destination)
    if location.path is not None:
        if not os.path.isdir(location.path):
            what = "not a directory" if os.path.lexists(location.path) else "no such directory"
            raise ValueError(f"{location.path}: {what}")
        options["create"] = False
    elif object_scheme(args.destination):
        options["preflight"] = False  # its probe writes an object: a restore only reads
    return wrap(args, open_destination(args.destination, **options), reading=True)


def _as_sync_report(report: RestoreReport) -> SyncReport:
    """The restore's tally in the shape the progress line reads."""
    return SyncReport(
        files_copied=report.restored,
        bytes_copied=report.bytes_restored,
        unchanged=report.unchanged + report.metadata + report.kept,
        failed=report.failed,
        expected=report.expected,
    )


def _print_plan(report: RestoreReport) -> None:
    out = sys.stdout
    for action, key in report.planned:
        out.write(f"{action}: {shown(key)}\n")
    for key, reason in report.failed:
        out.write(f"refuse: {shown(key)} ({shown(reason)})\n")


def run(args: argparse.Namespace) -> int:
    """Restore; exit 0 when everything was, 1 when some files were not, 2 on usage errors."""
    try:
        source = open_source(args)
    except (ImportError, ValueError, FsreplicaError) as exc:
        fail(exc)
        return EXIT_USAGE
    try:
        restore = Restore(
            source,
            args.target,
            prefix=args.prefix,
            include=args.include,
            exclude=args.exclude,
            overwrite=Overwrite(args.overwrite),
            force=args.force,
            dry_run=args.dry_run,
            verify=args.verify,
            transfers=args.transfers,
            at=args.at,
            links=not args.no_links,
        )
        interrupted = on_termination(restore.interrupt)
        with Progress(lambda: _as_sync_report(restore.progress()), None):
            report = restore.run()
    except FsreplicaError as exc:
        fail(exc)
        return EXIT_USAGE
    finally:
        source.close()
    if args.dry_run:
        _print_plan(report)
        print(f"fsreplica: {report.summary(dry_run=True)}", file=sys.stderr)
        return EXIT_OK
    for key, reason in report.failed:
        fail(f"restore {shown(key)}: {shown(reason)}")
    signum = interrupted()
    if signum is not None:
        name = signal.Signals(signum).name
        print(f"fsreplica: interrupted by {name}: {report.summary()}", file=sys.stderr)
        return 128 + signum
    if not args.quiet:
        print(f"fsreplica: {report.summary()}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
