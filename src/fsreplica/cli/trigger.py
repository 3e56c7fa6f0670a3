"""`fsreplica trigger [ID] [--wait]`: ask the daemon for a full sync of a policy, or of all."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._api import (
    EXIT_FAILED,
    EXIT_OK,
    NO_DAEMON_ROW,
    REFUSED_ROW,
    add_json,
    add_socket,
    call,
    client,
    print_json,
)
from fsreplica.cli._common import add_common_options, exit_epilog, seconds
from fsreplica.daemon.client import DaemonClient, segment

FIRST_POLL = 0.05
LAST_POLL = 0.5
"""Seconds between two looks at a job that has not finished (growing from FIRST_POLL)."""


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="ask the daemon for a full sync of a policy, or of every enabled one",
        description="Queue a full sync (a reconcile) of policy ID, or of every enabled policy, "
        "in a running `fsreplica daemon`; print the jobs, or with --wait their results.",
        epilog=exit_epilog(
            ("0", "the jobs were queued (with --wait: every job finished without failing)"),
            ("1", "with --wait: a job failed, or --timeout passed first"),
            REFUSED_ROW,
            NO_DAEMON_ROW,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("id", metavar="ID", nargs="?", help="the policy (default: every enabled)")
    parser.add_argument("--wait", action="store_true", help="wait for the jobs to finish")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="with --wait: give up after this long (default 0: no limit)",
    )
    add_json(parser, "the jobs (one object per line)")
    add_socket(parser)
    add_common_options(parser)


def _wait(api: DaemonClient, jobs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """The jobs once finished (or as they are when `timeout` passes)."""
    deadline = time.monotonic() + timeout if timeout else None
    pause = FIRST_POLL
    while True:
        jobs = [
            job if job["state"] in ("done", "failed") else api.get(f"/jobs/{segment(job['id'])}")
            for job in jobs
        ]
        if all(job["state"] in ("done", "failed") for job in jobs):
            return jobs
        if deadline is not None and time.monotonic() >= deadline:
            return jobs
        # Jobs take seconds to hours: a look every half second at most costs nothing.
        time.sleep(pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LAST_POLL)


def _line(job: dict[str, Any]) -> str:
    outcome = job.get("error") if job["state"] == "failed" else job.get("result")
    more = f": {shown(outcome)}" if outcome else ""
    return f"{shown(job['policy'])}: job {shown(job['id'])} {job['state']}{more}"


def run(args: argparse.Namespace) -> int:
    """Queue the sync; with --wait, exit 1 unless every job finished without failing."""
    api = client(args)

    def act() -> int:
        if args.id is None:
            jobs: list[dict[str, Any]] = api.post("/sync")
        else:
            jobs = [api.post(f"/policies/{segment(args.id)}/sync")]
        if args.wait:
            jobs = _wait(api, jobs, args.timeout)
        for job in jobs:
            if args.json:
                print_json(job)
            else:
                sys.stdout.write(_line(job) + "\n")
        if not args.wait:
            return EXIT_OK
        unfinished = [job for job in jobs if job["state"] not in ("done", "failed")]
        if unfinished:
            print(
                f"fsreplica: trigger: {len(unfinished)} job(s) still running after "
                f"{args.timeout:g}s",
                file=sys.stderr,
            )
        return EXIT_FAILED if any(job["state"] != "done" for job in jobs) else EXIT_OK

    return call(act)
