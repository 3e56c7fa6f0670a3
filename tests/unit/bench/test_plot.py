"""benchmarks/plot.py on a trimmed result of a real `perf_bench.py --quick` run.

`perf-quick.json` is that run's combined file with fewer rows (the watcher's latency rounds and
some summary rows, every other part whole), in the shape perf_bench.py writes; `s3-quick.json`
is `s3_bench.py --json` from a small run against Ceph RGW, with four of its rows;
`sustained-rgw-quick.json` is `sustained_bench.py --dest rgw --seconds 10 --json` as written.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PLOT = ROOT / "benchmarks" / "plot.py"
FIXTURE = Path(__file__).with_name("perf-quick.json")
S3_FIXTURE = Path(__file__).with_name("s3-quick.json")
RGW_FIXTURE = Path(__file__).with_name("sustained-rgw-quick.json")
RGW_ROW = (
    "| 250 | 250 | 250 (1.00x) | 0 | 0.00280 s | 0.0257 s | -0.000540 s | 724 µs | "
    "59.3 -> 62.8 MiB | 1 | 2,340 µs | met |"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The prose names the markers too, as docs/benchmarks.md does: only whole lines count.
HEAD = (
    "# Benchmarks\n\nplot.py rewrites what lies between `<!-- results:begin -->` and\n"
    "`<!-- results:end -->`.\n\n<!-- results:begin -->\n"
)
TAIL = "<!-- results:end -->\n\n## Figures behind design choices\n\nkept as is\n"


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PLOT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )


def test_plots_and_results_section(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text(HEAD + "old figures\n" + TAIL)
    img = tmp_path / "docs" / "img" / "bench"
    img.mkdir(parents=True)
    (img / "daemon.png").write_bytes(b"from another run")  # its part is not in these files
    (img / "notes.txt").write_text("not plot.py's")
    # A part that failed in another run: perf_bench.py keeps it with no figures.
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "meta": {"commit": "abc1234", "quick": True},
                "sustained": {"command": ["x"], "exit": 1, "figures": None, "error": "boom"},
            }
        )
    )

    # smallfiles_bench.py --fs ext4 --json on its own: the ext4 part of the scaling rows.
    ext4 = tmp_path / "small-ext4.json"
    ext4.write_text(
        json.dumps({**json.loads(FIXTURE.read_text())["small"]["figures"], "fs": "ext4"})
    )

    result = _run(FIXTURE, S3_FIXTURE, RGW_FIXTURE, broken, ext4, "--img-dir", img, "--doc", doc)

    assert result.returncode == 0, result.stderr
    expected = [
        "watcher_latency.png",
        "watcher_burst.png",
        "watcher_paced.png",
        "watcher_ready.png",
        "sustained.png",
        "scaling.png",
        "scaling_ext4.png",
        "replication.png",
        "s3.png",
    ]
    assert sorted(p.name for p in img.iterdir()) == sorted([*expected, "notes.txt"])
    for name in expected:
        width, height = _png_size(img / name)
        assert 600 <= width <= 2000, (name, width)
        assert 300 <= height <= 2000, (name, height)
    # Parts absent from the files are reported one line each, and the run goes on.
    for part in ("daemon", "polling", "crypt", "azure", "gcs", "restore"):
        assert f"plot.py: no {part} results in the given files; skipped" in result.stderr
    assert "broken.json: sustained has no figures (boom); skipped" in result.stderr

    text = doc.read_text()
    assert text.startswith(HEAD)
    assert text.endswith(TAIL)
    section = text[len(HEAD) : -len(TAIL)]
    assert "old figures" not in section
    assert "Smoke figures, to be replaced" in section
    assert "Not in these results (skipped): daemon, polling, crypt, azure, gcs, restore." in section
    assert "`python3 benchmarks/smallfiles_bench.py --sizes 10000 --repeat 1`" in section
    assert "load 1.47 0.55 0.31 -> 1.51 0.58 0.32" in section
    for name in expected:
        assert f"(img/bench/{name})" in section
    assert "## Small files at scale on ext4 (smallfiles_bench.py --fs ext4)" in section
    # The watcher's ratio row: fsreplica's advantage over each peer, the target and its verdict.
    assert "| latency tmpfs | close->event p50 ms | <= 0.15 | 0.0663 | 1.14 (17x) |" in section
    assert "| 10,000 | one-shot sync wall | 2.06 s | 0.393 s (0.19x) |" in section
    # s3_bench's pairs: the one whose rows are in the file, without its --json in the command.
    assert "| sync t=16 | 1.00 s / 0.497 s | 0.893 s / 0.364 s | 0.89x | 0.73x |" in section
    assert "sync t=4" not in section
    assert (
        "`python3 benchmarks/s3_bench.py --small 300 --big 1 --repeat 1 --latency-samples 5`"
        in (section)
    )

    # The sustained writer to Ceph RGW: its own table, its 2 s lag target, the gateway's figures,
    # and the command that made it; the local rows keep their 1 s target.
    assert "#### replicate to Ceph RGW, sustained writer (sustained_bench.py --dest rgw)" in section
    assert "`python3 benchmarks/sustained_bench.py --dest rgw --seconds 10`" in section
    assert "| requests/file | server CPU/file | target: keeps up, p99 <= 2 s," in section
    assert RGW_ROW in section
    assert "| RSS | target: keeps up, p99 <= 1 s, converged <= 1 s |" in section

    # Run again: the same section, nothing else touched.
    again = _run(FIXTURE, S3_FIXTURE, RGW_FIXTURE, broken, ext4, "--img-dir", img, "--doc", doc)
    assert again.returncode == 0, again.stderr
    assert doc.read_text() == text


def test_doc_without_markers_is_refused_before_any_work(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    img = tmp_path / "img"

    result = _run(FIXTURE, "--img-dir", img, "--doc", doc)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"plot.py: update {doc}: no <!-- results:begin --> ... <!-- results:end --> markers, "
        "each alone on its line"
    )
    assert doc.read_text() == "# Benchmarks\n"
    assert not img.exists()
