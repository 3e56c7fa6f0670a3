"""The sustained-writer tables of plot.py: each row judged against its own destination's target."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCH))

from _plot_load import Part  # noqa: E402  (benchmarks/ is not a package)
from _plot_tables import TABLES  # noqa: E402


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "rate": 250.0,
        "written_per_s": 250.0,
        "replicated_per_s": 250.0,
        "missing": 0,
        "lag_p50_s": 0.01,
        "lag_p99_s": 1.5,
        "converged_s": 0.2,
        "cpu_us_per_file": 800.0,
        "rss_start_mib": 59.0,
        "rss_end_mib": 74.0,
    }
    return {**row, **changes}


def _table(name: str, rows: list[dict[str, Any]]) -> list[str]:
    return TABLES[name](Part(name, {"sustained": rows}, Path("x.json")))


def test_lag_of_1_5_s_meets_the_rgw_target_and_misses_the_local_one() -> None:
    rgw = _table(
        "sustained_rgw",
        [_row(lag_target_s=2.0, requests_per_file=1.0, server_cpu_us_per_file=2600.0)],
    )
    local = _table("sustained", [_row(lag_target_s=1.0)])

    assert rgw[0].endswith(
        "| requests/file | server CPU/file | target: keeps up, p99 <= 2 s, converged <= 1 s |"
    )
    assert rgw[2].endswith("| 1 | 2,600 µs | met |")
    assert local[0].endswith("| RSS | target: keeps up, p99 <= 1 s, converged <= 1 s |")
    assert local[2].endswith("| 59 -> 74 MiB | **MISSED** |")


def test_rows_written_before_the_lag_target_was_recorded_are_judged_at_1_s() -> None:
    lines = _table("sustained", [_row(lag_p99_s=0.9), _row(lag_p99_s=1.1)])

    assert [line.rsplit("|", 2)[1].strip() for line in lines[2:]] == ["met", "**MISSED**"]


def test_an_rgw_row_that_converges_late_or_loses_files_misses() -> None:
    lines = _table(
        "sustained_rgw",
        [_row(lag_target_s=2.0, converged_s=1.5), _row(lag_target_s=2.0, missing=3)],
    )

    assert [line.rsplit("|", 2)[1].strip() for line in lines[2:]] == ["**MISSED**", "**MISSED**"]
