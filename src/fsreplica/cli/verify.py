"""`fsreplica verify SRC DEST`: compare both trees by content."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fsreplica.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_options,
    add_filters,
    exit_epilog,
    ignore_patterns,
    plural,
    source_problem,
)
from fsreplica.cli._encryption import add_key_options
from fsreplica.cli._replication import add_pair, add_s3, fail, open_to_look
from fsreplica.errors import FsreplicaError
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.verify import verify


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="compare SRC and DEST by content",
        epilog=exit_epilog(
            ("0", "identical: every file in both, same content, mode and mtime"),
            (
                "1",
                "differences, one line each: missing, extra, size, content, metadata (mode or "
                "mtime), unreadable, unverifiable",
            ),
            ("2", "bad options, or SRC or DEST cannot be read"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pair(parser)
    add_filters(parser)
    add_s3(parser)
    add_key_options(parser)
    add_common_options(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when identical; else list each difference and exit 1."""
    if (problem := source_problem(args.source)) is not None:
        fail(problem)
        return EXIT_USAGE
    rules = IgnoreRules(ignore_patterns(args))
    try:
        destination = open_to_look(args)
    except (ImportError, ValueError, FsreplicaError) as exc:
        fail(exc)
        return EXIT_USAGE
    try:
        diffs = verify(os.path.abspath(args.source), destination, rules=rules)
    except FsreplicaError as exc:
        fail(exc)
        return EXIT_USAGE
    finally:
        destination.close()
    for diff in diffs:
        print(diff)
    if diffs:
        print(f"fsreplica: {plural(len(diffs), 'difference')}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print("fsreplica: identical", file=sys.stderr)
    return EXIT_OK
