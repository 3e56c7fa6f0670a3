"""Pictures and tables from benchmark results: PNG plots and the results section of the docs.

Usage: python3 benchmarks/plot.py RESULTS.json [MORE.json ...]
       [--img-dir docs/img/bench] [--doc docs/benchmarks.md] [--no-doc]

Reads perf_bench.py's combined file (benchmarks/results/perf-*.json: watcher, sustained,
sustained_rgw, small, small_ext4, replication) and the --json files of sustained_bench.py,
daemon_bench.py, polling_bench.py, crypt_bench.py, s3_bench.py, azure_bench.py, gcs_bench.py and
restore_bench.py, in any order. Writes one PNG per
plot into --img-dir, each naming the machine, the load average and the commit of its run, and
rewrites the part of --doc between the marker lines `<!-- results:begin -->` and
`<!-- results:end -->`: the machine, the load during each part, the commands that reproduce
them, fsreplica's ratio against each peer, the targets and whether they are met. A part missing
from the files is reported in one line and skipped, and its pictures are removed from
--img-dir, so the page never shows pictures of another run. Needs matplotlib
(`pip install 'fsreplica[bench]'`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _plot_load import OTHER_PARTS, PERF_PARTS, Part, read

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

TITLES = {
    "watcher": "Watcher (watcher_bench.py)",
    "sustained": "replicate under a sustained writer (sustained_bench.py)",
    "sustained_rgw": "replicate to Ceph RGW, sustained writer (sustained_bench.py --dest rgw)",
    "small": "Small files at scale on tmpfs (smallfiles_bench.py)",
    "small_ext4": "Small files at scale on ext4 (smallfiles_bench.py --fs ext4)",
    "replication": "Replication to a local DEST (replication_bench.py)",
    "daemon": "Daemon with many policies (daemon_bench.py)",
    "polling": "Polling backends (polling_bench.py)",
    "crypt": "What encryption costs (crypt_bench.py)",
    "s3": "S3, Ceph RGW (s3_bench.py)",
    "azure": "Azure Blob, Azurite (azure_bench.py)",
    "gcs": "Google Cloud Storage, fake-gcs-server (gcs_bench.py)",
    "restore": "Restore (restore_bench.py)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="benchmark JSON files")
    parser.add_argument("--img-dir", type=Path, default=ROOT / "docs" / "img" / "bench")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-doc", action="store_true", help="write the plots only")
    args = parser.parse_args(argv)
    if not args.no_doc:
        try:
            replace_section(args.doc, None)  # checks the markers before any work
        except (OSError, ValueError) as exc:
            print(f"plot.py: update {args.doc}: {exc}", file=sys.stderr)
            return 1
    try:
        import _plot_draw  # noqa: PLC0415  (imports matplotlib, an optional dependency)
    except ImportError as exc:
        print(f"plot.py: {exc}; install it with: pip install 'fsreplica[bench]'", file=sys.stderr)
        return 2
    from _plot_tables import TABLES  # noqa: PLC0415

    parts, notes = read(args.results)
    borrow_context(parts)
    for note in notes:
        print(f"plot.py: {note}", file=sys.stderr)
    if not parts:
        print("plot.py: no benchmark results in the given files; nothing written", file=sys.stderr)
        return 1
    images: dict[str, list[Path]] = {}
    missing = []
    for name in (*PERF_PARTS, *OTHER_PARTS):
        for stale in _plot_draw.FILES.get(name, ()):
            (args.img_dir / stale).unlink(missing_ok=True)
        part = parts.get(name)
        if part is None:
            missing.append(name)
            print(f"plot.py: no {name} results in the given files; skipped", file=sys.stderr)
            continue
        draw = _plot_draw.DRAW.get(name)
        images[name] = draw(part, args.img_dir) if draw else []
        for path in images[name]:
            print(f"wrote {path}")
    if args.no_doc:
        return 0
    section = render(parts, images, missing, TABLES, args.doc.parent, args.results)
    try:
        replace_section(args.doc, section)
    except (OSError, ValueError) as exc:
        print(f"plot.py: update {args.doc}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the results section of {args.doc}")
    return 0


def borrow_context(parts: dict[str, Part]) -> None:
    """Name the machine and commit of a part whose file does not record them after another's.

    The --json files of daemon_bench.py, polling_bench.py and crypt_bench.py hold only figures;
    run beside perf_bench.py, they ran on its machine. The footnote says where it came from.
    """
    known = next((p for p in parts.values() if p.machine and p.commit), None)
    if known is None:
        return
    for part in parts.values():
        if not part.machine:
            part.machine = f"{known.machine} (as {known.source.name})"
        if not part.commit:
            part.commit = f"{known.commit} (as {known.source.name})"


def render(
    parts: dict[str, Part],
    images: dict[str, list[Path]],
    missing: list[str],
    tables: dict[str, object],
    doc_dir: Path,
    sources: list[Path],
) -> str:
    """The Markdown between the markers."""
    names = ", ".join(f"`{_shown(p)}`" for p in sources)
    lines = [
        f"<!-- generated by benchmarks/plot.py from {names}: run it again, do not edit -->",
        "",
    ]
    if any(p.quick for p in parts.values()):
        lines += [
            "**Smoke figures, to be replaced:** these come from a `--quick` run (small sizes, one "
            "round) and are not the ones to quote.",
            "",
        ]
    machines = sorted({p.machine.split(" (as ")[0] for p in parts.values() if p.machine})
    commits = sorted({p.commit.split(" (as ")[0] for p in parts.values() if p.commit})
    lines += [
        f"Machine: {'; '.join(machines) or 'not recorded'}. "
        f"Commit: {', '.join(commits) or 'not recorded'}.",
        "",
        "| part | command to reproduce | load average (1, 5, 15 min) | took |",
        "| --- | --- | --- | --- |",
    ]
    for name in (*PERF_PARTS, *OTHER_PARTS):
        part = parts.get(name)
        if part is None:
            continue
        took = f"{part.seconds:.0f} s" if part.seconds is not None else ""
        command = f"`{part.command_text()}`" + ("" if part.command else " (options not recorded)")
        lines.append(f"| {name} | {command} | {part.load_text()} | {took} |")
    if missing:
        lines += ["", f"Not in these results (skipped): {', '.join(missing)}."]
    lines += [
        "",
        "Ratios are fsreplica's advantage over the peer in the same run: `2x` means fsreplica "
        "is twice as good (faster, lighter), `0.5x` twice worse.",
    ]
    for name in (*PERF_PARTS, *OTHER_PARTS):
        part = parts.get(name)
        if part is None:
            continue
        lines += ["", f"#### {TITLES.get(name, name)}", ""]
        for image in images.get(name, []):
            rel = Path(os.path.relpath(image, doc_dir)).as_posix()
            lines.append(f"![{TITLES.get(name, name)}: {image.stem}]({rel})")
            lines.append("")
        table = tables.get(name)
        if callable(table):
            lines += table(part)
    return "\n".join(lines).rstrip() + "\n"


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def replace_section(doc: Path, section: str | None) -> None:
    """Replace what lies between the markers of `doc`, leaving the rest byte for byte.

    Args:
        doc: The Markdown file.
        section: The new text between the markers; None only checks that they are there.

    Raises:
        ValueError: `doc` lacks either marker, or has them in the wrong order.
        OSError: `doc` cannot be read or written.
    """
    text = doc.read_text()
    # Whole lines only: the page may name the markers in its prose.
    begin = re.search(rf"^{re.escape(BEGIN)}[ \t]*\n", text, re.MULTILINE)
    end = re.search(
        rf"^{re.escape(END)}[ \t]*$", text[begin.end() :] if begin else "", re.MULTILINE
    )
    if begin is None or end is None:
        raise ValueError(f"no {BEGIN} ... {END} markers, each alone on its line")
    if section is not None:
        doc.write_text(text[: begin.end()] + section + text[begin.end() + end.start() :])


if __name__ == "__main__":
    sys.exit(main())
