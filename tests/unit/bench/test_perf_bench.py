"""benchmarks/perf_bench.py on a machine without Ceph: the RGW part is skipped, with its reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PERF = ROOT / "benchmarks" / "perf_bench.py"
PLOT = ROOT / "benchmarks" / "plot.py"


def test_rgw_part_is_skipped_with_one_line_where_ceph_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "perf.json"
    empty = tmp_path / "bin"  # a PATH with no radosgw on it
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}

    done = subprocess.run(
        [sys.executable, str(PERF), "--only", "sustained_rgw", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("=== sustained_rgw")]
    assert len(skipped) == 1
    assert skipped[0].startswith("=== sustained_rgw: skipped: ")
    reason = skipped[0].removeprefix("=== sustained_rgw: skipped: ")
    assert "not" in reason  # "radosgw not found: ..." (or boto3 "is not installed")
    entry = json.loads(out.read_text())["sustained_rgw"]
    assert entry["figures"] is None
    assert entry["error"] == f"skipped: {reason}"
    assert entry["command"][1:] == ["--dest", "rgw"]

    # plot.py names the part and the reason, and goes on with what it has (nothing here).
    plotted = subprocess.run(
        [sys.executable, str(PLOT), str(out), "--no-doc", "--img-dir", str(tmp_path / "img")],
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )
    assert f"sustained_rgw has no figures (skipped: {reason}); skipped" in plotted.stderr
