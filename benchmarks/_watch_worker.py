"""Runs one scenario for one tool in a fresh process and prints its metrics as JSON.

    python _watch_worker.py '{"scenario": "burst", "tool": "fsreplica", "root": "/dev/shm/x", ...}'

The last line of stdout is `RESULT {...}` (or `ERROR why`); what the tools log goes to stderr.
"""

from __future__ import annotations

import json
import logging
import sys

from _watch_scenarios import SCENARIOS, Spec

RESULT = "RESULT "
ERROR = "ERROR "


def main(argv: list[str]) -> int:
    # Tools log warnings on purpose here (overflows, a paused reader); keep stderr short.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    spec = Spec(**json.loads(argv[1]))
    try:
        metrics = SCENARIOS[spec.scenario](spec)
    except Exception as exc:  # reported as this round's error; the traceback goes to stderr
        logging.exception("%s %s failed", spec.scenario, spec.tool)
        print(f"{ERROR}{type(exc).__name__}: {exc}", flush=True)
        return 1
    print(RESULT + json.dumps(metrics), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
