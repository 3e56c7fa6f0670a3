"""`fsreplica replicate SRC DEST`: reconcile, then replicate every change until interrupted."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fsreplica.cli._common import EXIT_OK, EXIT_USAGE, add_common_options, positive_seconds
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.cli._replication import add_replication, fail, make_replicator
from fsreplica.errors import FsreplicaError, InternalError, RootLost
from fsreplica.replicate import DEFAULT_SCAN_INTERVAL, SyncReport

EPILOG = """\
exit status:
  0   stopped by SIGINT or SIGTERM, in-flight copies finished
  2   bad options, or SRC, DEST or the state file cannot be used
  3   SRC was deleted, moved away, replaced or unmounted while replicating (one line names
      it and the cause); with --wait-for-source it is waited for instead
  70  internal error: a thread of fsreplica stopped on an unexpected exception (a bug); one
      line names the thread and the cause (-v adds the traceback); unfinished changes stay
      journaled and are replayed at the next start

A destination that is unreachable, full or read-only is not an exit: the changes wait and are
retried until it clears; one line says when that starts and one when it is over. Neither is a
directory under SRC that cannot be read: it is logged once, listed by `status` as a failure of
its path and tried again at each reconcile; everything else is replicated.
"""

EXIT_SOURCE_LOST = 3
"""SRC itself went away while replicating (and --wait-for-source was not given)."""


# An object store's client (S3, GCS) retries a request for 20 s by default, so that a one-shot
# sync, which gives a change up after a few attempts, rides out a short outage. A replicator
# never gives up and probes a destination that is down itself: its requests fail sooner, so that
# an outage is seen (and logged) within seconds, not after 20 s of silence.
S3_RETRY_TIMEOUT = 4.0


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="mirror SRC to DEST in real time until interrupted",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_replication(parser)
    parser.add_argument(
        "--scan-interval",
        type=positive_seconds,
        default=DEFAULT_SCAN_INTERVAL,
        metavar="SECONDS",
        help=f"full reconcile period, as a safety net (default {DEFAULT_SCAN_INTERVAL:.0f})",
    )
    parser.add_argument(
        "--wait-for-source",
        action="store_true",
        help="when SRC is deleted or moved away, wait for it to come back, then reconcile and "
        f"go on (default: exit {EXIT_SOURCE_LOST})",
    )
    add_common_options(parser)


def run(args: argparse.Namespace) -> int:
    """Replicate until SIGINT/SIGTERM, then finish in-flight copies and exit 0."""
    replicator = make_replicator(
        args,
        s3_options={"retry_timeout": S3_RETRY_TIMEOUT},
        scan_interval=args.scan_interval,
        wait_for_source=args.wait_for_source,
    )
    if replicator is None:
        return EXIT_USAGE

    def ready(report: SyncReport) -> None:
        if not args.quiet:
            print(
                f"fsreplica: initial sync: {report.summary()}; replicating {args.source} to "
                f"{args.destination}",
                file=sys.stderr,
                flush=True,
            )

    with replicator:
        _on_termination(replicator.stop)
        try:
            replicator.run(on_ready=ready)
        except InternalError:
            raise  # exit status 70, in main()
        except RootLost as exc:
            fail(exc)
            return EXIT_SOURCE_LOST
        except FsreplicaError as exc:
            fail(exc)
            return EXIT_USAGE
    return EXIT_OK
