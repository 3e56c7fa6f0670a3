"""Options and set-up shared by sync, replicate, verify and status."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fsreplica._names import one_line
from fsreplica.cli._common import add_debounce, add_filters, at_least, source_problem
from fsreplica.cli._encryption import add_key_options, wrap
from fsreplica.destinations import Destination, open_destination, parse_location
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import FsreplicaError
from fsreplica.replicate import Replicator
from fsreplica.replicate.engine import (
    DEFAULT_TRANSFERS,
    LOCAL_SYNC_TRANSFERS,
    LOCAL_TRANSFERS,
    default_transfers,
)
from fsreplica.replicate.reconcile import check_overlap


def add_pair(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """Add the SRC and DEST arguments."""
    nargs = "?" if optional else None
    parser.add_argument("source", metavar="SRC", nargs=nargs, help="the directory to replicate")
    parser.add_argument(
        "destination",
        metavar="DEST",
        nargs=nargs,
        help="a path, file:// URL, s3://bucket/prefix or az://container/prefix",
    )


def add_state(parser: argparse.ArgumentParser) -> None:
    """Add --state."""
    parser.add_argument(
        "--state",
        metavar="PATH",
        help="state file (default: one per SRC/DEST pair under $XDG_STATE_HOME/fsreplica)",
    )


def transfers_for(asked: int | None, *, local: bool, live: bool) -> int:
    """Return the parallel copies to run: `asked` (--transfers), else the destination's default.

    Args:
        asked: The number given on the command line, or None.
        local: The destination is a local directory.
        live: For `replicate` (else a one-shot `sync`).
    """
    return asked if asked is not None else default_transfers(local=local, live=live)


def add_replication(parser: argparse.ArgumentParser) -> None:
    """Add the options of sync and replicate."""
    add_pair(parser)
    add_state(parser)
    add_filters(parser)
    parser.add_argument(
        "--transfers",
        type=at_least(1),
        default=None,
        metavar="N",
        help=f"parallel copies (default to a local DEST: {LOCAL_SYNC_TRANSFERS} for sync, "
        f"{LOCAL_TRANSFERS} for replicate; {DEFAULT_TRANSFERS} to an object store)",
    )
    add_debounce(parser)
    parser.add_argument(
        "--no-delete", action="store_true", help="keep files at DEST that are gone from SRC"
    )
    parser.add_argument(
        "--max-delete",
        type=at_least(-1),
        default=None,
        metavar="N",
        help="allow a reconcile to delete up to N files (-1: no limit); by default deletions "
        "are refused when SRC is empty or more than half of DEST would go",
    )
    parser.add_argument(
        "-l",
        "--links",
        action="store_true",
        help="copy symlinks as symlinks (their target text, never followed) to a local DEST; "
        "by default they are skipped",
    )
    parser.add_argument(
        "-c",
        "--checksum",
        action="store_true",
        help="compare every file's content on both sides (reading DEST's files, or an "
        "object's recorded SHA-256) and copy again what differs, not only what changed in size "
        "or mtime; at each reconcile",
    )
    add_s3(parser)
    add_key_options(parser)


# Object stores, and the options of the command line each one takes.
OBJECT_SCHEMES: dict[str, frozenset[str]] = {
    "s3": frozenset({"endpoint_url", "region", "path_style"}),
    "az": frozenset({"endpoint_url"}),
    "gs": frozenset({"endpoint_url"}),
}


def add_s3(parser: argparse.ArgumentParser) -> None:
    """Add --endpoint-url, --region and --path-style (object storage destinations)."""
    group = parser.add_argument_group("object storage (s3://, az://, gs://)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="an S3-compatible endpoint (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, AWS), "
        "an Azure blob endpoint: an emulator or a sovereign cloud (default: the connection "
        "string's, $AZURE_STORAGE_ENDPOINT, https://ACCOUNT.blob.core.windows.net), or a GCS "
        "JSON API endpoint (default: $STORAGE_EMULATOR_HOST, Google's)",
    )
    group.add_argument(
        "--region",
        metavar="NAME",
        help="s3: signing region (default: the AWS profile's, us-east-1)",
    )
    group.add_argument(
        "--path-style",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="s3: address buckets as ENDPOINT/BUCKET (default: yes exactly with a custom endpoint)",
    )


def object_scheme(destination: str) -> str | None:
    """The scheme of DEST when it is an object store (`s3`, `az`, `gs`), else None."""
    scheme = destination.partition("://")[0].lower() if "://" in destination else ""
    return scheme if scheme in OBJECT_SCHEMES else None


def destination_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword options for `open_destination` given on the command line.

    Raises:
        ValueError: Object storage options were given for a destination that takes none.
    """
    given = {
        name: value
        for name in ("endpoint_url", "region", "path_style")
        if (value := getattr(args, name, None)) is not None
    }
    scheme = object_scheme(args.destination)
    taken = OBJECT_SCHEMES.get(scheme or "", frozenset())
    refused = [name for name in given if name not in taken]
    if refused:
        flags = ", ".join("--" + name.replace("_", "-") for name in refused)
        takers = [f"{s}://" for s, names in OBJECT_SCHEMES.items() if names.issuperset(refused)]
        them = " and ".join([", ".join(takers[:-1]), takers[-1]] if len(takers) > 2 else takers)
        raise ValueError(f"{flags}: only for {them} destinations")
    return given


def open_to_look(args: argparse.Namespace, *, dry_run: bool = False) -> Destination:
    """Open DEST to look at it (`verify`, dry runs): a local DEST is never created.

    A local DEST that does not exist yet is an empty destination. For a dry run, an object store
    (s3://, az://, gs://) is opened without its preflight (which writes a probe object) and
    without its on-disk metadata cache (gs:// has none), so that nothing is written anywhere.

    Raises:
        ValueError: Bad options or URL.
        ImportError: The destination's extra is not installed.
        FsreplicaError: The destination cannot be opened.
    """
    options = destination_options(args)
    location = parse_location(args.destination)
    if location.path is not None and location.host in ("", "localhost"):
        if not os.path.lexists(location.path):
            return MemoryDestination()
        options["create"] = False
    elif dry_run and (scheme := object_scheme(args.destination)):
        options.update(preflight=False)
        if scheme != "gs":
            options.update(metadata_cache=False)
    return wrap(args, open_destination(args.destination, **options))


def fail(message: object) -> None:
    """Print an error line on stderr (one line, whatever names it holds)."""
    print(f"fsreplica: {one_line(str(message))}", file=sys.stderr, flush=True)


def make_replicator(
    args: argparse.Namespace, *, s3_options: dict[str, Any] | None = None, **extra: Any
) -> Replicator | None:
    """Build a Replicator from the options, or print why not and return None.

    Args:
        args: The parsed command line.
        s3_options: More keyword options for an object store destination (s3://, az://, gs://).
        **extra: More keyword options for the Replicator.
    """
    if (problem := source_problem(args.source)) is not None:
        fail(problem)
        return None
    try:
        local = parse_location(args.destination).path
        if local is not None:
            # Before opening, which creates the directory: never inside the source.
            check_overlap(os.path.abspath(args.source), local)
        options = destination_options(args)
        if s3_options and object_scheme(args.destination):
            options.update(s3_options)
        if local is not None and getattr(args, "encrypt", False):
            options["create"] = False  # it holds the key already: never made empty here
        destination = wrap(args, open_destination(args.destination, **options))
    except (ImportError, ValueError, FsreplicaError) as exc:
        fail(exc)
        return None
    try:
        return Replicator(
            args.source,
            destination,
            state=args.state,
            transfers=transfers_for(
                args.transfers,
                local=local is not None,
                live=getattr(args, "command", None) == "replicate",
            ),
            debounce=args.debounce,
            exclude=args.exclude,
            default_excludes=not args.no_default_excludes,
            delete=not args.no_delete,
            max_delete=args.max_delete,
            links=args.links,
            checksum=args.checksum,
            **extra,
        )
    except (ValueError, FsreplicaError) as exc:
        destination.close()
        fail(exc)
        return None
