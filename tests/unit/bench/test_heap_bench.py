"""benchmarks/heap_bench.py: heap growth per new file, by site, and per change of a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAP = ROOT / "benchmarks" / "heap_bench.py"


def test_growth_per_new_file_is_the_watchers_names_and_a_change_costs_far_less(
    tmp_path: Path,
) -> None:
    out = tmp_path / "heap.json"

    done = subprocess.run(
        [sys.executable, str(HEAP), "--files", "2000", "--fs", "tmpfs", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "B per file" in done.stdout
    assert "B per change" in done.stdout
    heap = json.loads(out.read_text())["heap"]
    assert heap["files"] == 2000
    assert heap["per_file"] > 0
    assert heap["per_change"] < heap["per_file"] / 2
    sites = {frame for site in heap["sites"] for frame in site["frames"]}
    assert any(frame.startswith("fsreplica/watch/_tree.py:") for frame in sites), sites
