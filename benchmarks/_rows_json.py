"""The `--json` file of the benchmarks that time rows of whole commands (s3, azure, gcs, restore).

One shape for all, which benchmarks/plot.py reads:

    {"bench": "s3", "command": [...], "machine": "...", "commit": "...",
     "files": 10020, "mib": 440.2, "repeat": 1,
     "rows": {"fsreplica sync --transfers 16": {"wall": 3.7, "cpu": 1.35, "runs": [[...]]}, ...},
     "pairs": [["sync t=16", "fsreplica sync --transfers 16", "rclone sync --transfers 16"], ...],
     "loadavg_before": [...], "loadavg_after": [...], ...extra keys}

`pairs` names the rows to compare: fsreplica's row and the peer's, under a label.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import _bench_meta


def medians(rows: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, Any]]:
    """Median wall and CPU seconds of each row, with every run."""
    return {
        name: {
            "wall": statistics.median(v[0] for v in runs),
            "cpu": statistics.median(v[1] for v in runs),
            "runs": [list(v) for v in runs],
        }
        for name, runs in rows.items()
    }


def write(
    path: str | None,
    *,
    bench: str,
    rows: dict[str, dict[str, Any]],
    pairs: list[tuple[str, str, str]],
    loadavg_before: tuple[float, ...] | list[float],
    **extra: Any,
) -> None:
    """Write the figures to `path` (nothing if it is None)."""
    if not path:
        return
    out = {
        "bench": bench,
        "command": [sys.argv[0], *sys.argv[1:]],
        "machine": _bench_meta.machine(),
        "commit": _bench_meta.commit(),
        **extra,
        "rows": rows,
        "pairs": [list(p) for p in pairs if p[1] in rows and p[2] in rows],
        "loadavg_before": list(loadavg_before),
        "loadavg_after": list(os.getloadavg()),
    }
    Path(path).write_text(json.dumps(out, indent=1) + "\n")
