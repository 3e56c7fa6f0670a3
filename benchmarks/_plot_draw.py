"""The plots of each benchmark part, written as PNG files into one directory.

Each function takes a part and the output directory and returns the files it wrote (none when
the part holds nothing to plot).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from _plot_load import Part, finite, median
from _plot_style import figure, finish, grouped_bars, hbars, lines, styles

SUBJECT = "fsreplica"
WATCH_TOOLS = ("fsreplica", "watchfiles", "watchdog", "inotifywait", "naive")


def _summary(part: Part, scenario: str, metric: str) -> list[dict[str, Any]]:
    return [
        row
        for row in part.figures.get("summary") or []
        if row.get("scenario") == scenario and row.get("metric") == metric
    ]


def _watch_tools(rows: list[dict[str, Any]]) -> list[str]:
    seen = {t for row in rows for t in row.get("values", {})}
    return [t for t in WATCH_TOOLS if t in seen] + sorted(seen - set(WATCH_TOOLS))


def watcher(part: Part, out: Path) -> list[Path]:
    """Close -> event latency per tool; paths per CPU second in bursts, paced rows; ready."""
    written = [_watch_latency(part, out)]
    for scenario, name, title in (
        ("burst", "watcher_burst.png", "Watcher: burst throughput (paths per CPU second)"),
        ("paced", "watcher_paced.png", "Watcher: paced writer (paths per CPU second)"),
    ):
        rows = _summary(part, scenario, "paths_per_cpu_s")
        if not rows:
            continue
        tools = _watch_tools(rows)
        fig, axes = figure(1, 1)
        grouped_bars(
            axes[0][0],
            [str(row.get("variant")) for row in rows],
            {t: [finite(row["values"].get(t)) for row in rows] for t in tools},
            ylabel="paths per CPU second (higher is better)",
            log=scenario == "paced",
            target=100_000 if scenario == "burst" else None,
            target_label="target >= 100,000",
        )
        written.append(finish(fig, out / name, title=title, footnote=part.footnote()))
    ready = _summary(part, "ready", "ready_s")
    rss = _summary(part, "ready", "rss_mb")
    if ready and rss:
        tools = _watch_tools(ready)
        fig, axes = figure(1, 2)
        for ax, rows, label, target in (
            (axes[0][0], ready, "ready s (lower is better)", 0.25),
            (axes[0][1], rss, "RSS after ready, MB (lower is better)", 25),
        ):
            grouped_bars(
                ax,
                [str(row.get("variant")) for row in rows],
                {t: [finite(row["values"].get(t)) for row in rows] for t in tools},
                ylabel=label,
                target=target,
                target_label=f"target <= {target}",
            )
        written.append(
            finish(
                fig,
                out / "watcher_ready.png",
                title="Watcher: ready time and memory on a prepared tree",
                footnote=part.footnote(),
            )
        )
    return [p for p in written if p is not None]


def _watch_latency(part: Part, out: Path) -> Path | None:
    """Per variant, every round's p50, p99 and max per tool, on a log scale."""
    runs = [r for r in part.figures.get("runs") or [] if r.get("scenario") == "latency"]
    variants = sorted({str(r.get("variant")) for r in runs})
    if not variants:
        return None
    fig, axes = figure(1, len(variants), height=3.6)
    for ax, variant in zip(axes[0], variants, strict=True):
        chosen = [r for r in runs if r.get("variant") == variant]
        tools = [t for t in WATCH_TOOLS if any(r.get("tool") == t for r in chosen)]
        look = styles(tools)
        for y, tool in enumerate(tools):
            for r in (r for r in chosen if r.get("tool") == tool):
                m = r.get("metrics") or {}
                for key, marker, size in (
                    ("p50_ms", "o", 40),
                    ("p99_ms", "^", 40),
                    ("max_ms", "x", 30),
                ):
                    value = finite(m.get(key))
                    if value is not None and value > 0:
                        ax.scatter(value, y, marker=marker, s=size, color=look[tool]["color"])
        for x, label in ((0.15, "p50 target"), (1.0, "p99 target")):
            ax.axvline(x, color="black", linestyle="--" if x < 1 else ":", linewidth=1)
            ax.text(x, len(tools) - 0.5, label, fontsize=7, rotation=90, va="top", ha="right")
        ax.set_yticks(range(len(tools)), tools)
        ax.set_ylim(-0.6, len(tools) - 0.4)
        ax.set_xscale("log")
        ax.set_xlabel("close -> event, ms (log; lower is better)")
        ax.set_title(variant, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for marker, label in (("o", "p50"), ("^", "p99"), ("x", "max")):
        axes[0][0].scatter([], [], marker=marker, color="grey", label=f"{label} of a round")
    axes[0][0].legend(fontsize=7, loc="lower right")
    return finish(
        fig,
        out / "watcher_latency.png",
        title="Watcher: close -> event latency, every round",
        footnote=part.footnote(),
    )


def sustained(part: Part, out: Path) -> list[Path]:
    """Written vs replicated files per second, and lag p50/p99, per writer rate."""
    rows = [r for r in part.figures.get("sustained") or [] if finite(r.get("rate"))]
    if not rows:
        return []
    rates = [float(r["rate"]) for r in rows]
    fig, axes = figure(1, 2)
    lines(
        axes[0][0],
        rates,
        {
            "written/s (writer)": [finite(r.get("written_per_s")) for r in rows],
            "fsreplica replicated/s": [finite(r.get("replicated_per_s")) for r in rows],
        },
        xlabel="writer's target rate, files/s",
        ylabel="files per second (log)",
    )
    lines(
        axes[0][1],
        rates,
        {
            "fsreplica lag p50": [finite(r.get("lag_p50_s")) for r in rows],
            "fsreplica lag p99": [finite(r.get("lag_p99_s")) for r in rows],
            "fsreplica converged": [finite(r.get("converged_s")) for r in rows],
        },
        xlabel="writer's target rate, files/s",
        ylabel="seconds (log; lower is better)",
        target=1.0,
        target_label="target <= 1 s",
    )
    return [
        finish(
            fig,
            out / "sustained.png",
            title="replicate under a sustained writer (local DEST)",
            footnote=part.footnote(),
        )
    ]


def small(part: Part, out: Path) -> list[Path]:
    """Sync, re-sync, replicate start-up and peak memory over the tree sizes, per tool."""
    sizes = part.figures.get("sizes") or {}
    if not sizes:
        return []
    keys = sorted(sizes, key=int)
    xs = [float(k) for k in keys]
    peers = {t for k in keys for t in sizes[k].get("tools", {})} - {SUBJECT}
    tools = [SUBJECT, *sorted(peers, key=lambda t: (t != "rsync", t))]  # the reference first

    def series(key: str, only: list[str] | None = None) -> dict[str, list[float | None]]:
        return {
            t: [finite(sizes[k].get("tools", {}).get(t, {}).get(key)) for k in keys]
            for t in (only or tools)
        }

    fig, axes = figure(2, 2, height=3.8)
    lines(axes[0][0], xs, series("sync_wall_s"), xlabel="files", ylabel="one-shot sync, wall s")
    lines(
        axes[0][1], xs, series("resync_wall_s"), xlabel="files", ylabel="no-change re-sync, wall s"
    )
    startup = {
        "fsreplica replicate until live": series("startup_live_s", [SUBJECT])[SUBJECT],
        "rsync no-change re-sync (target)": series("resync_wall_s", ["rsync"]).get("rsync", []),
    }
    lines(axes[1][0], xs, startup, xlabel="files", ylabel="replicate start-up, s")
    lines(
        axes[1][1],
        xs,
        series("sync_peak_rss_mb"),
        xlabel="files",
        ylabel="one-shot sync, peak RSS MB",
        target=250,
        target_label="target <= 250 MB",
    )
    fs = part.figures.get("fs") or "?"
    return [
        finish(
            fig,
            out / ("scaling_ext4.png" if part.name == "small_ext4" else "scaling.png"),
            title=f"Small files (1-4 KiB, 1,000 per directory, {fs}): scaling with tree size",
            footnote=part.footnote(),
        )
    ]


def replication(part: Part, out: Path) -> list[Path]:
    """Close -> DEST latency; bulk one-shot sync and no-change re-sync against the peers."""
    f = part.figures
    lat = f.get("latency_ms") or {}
    tools = (f.get("bulk") or {}).get("tools") or {}
    if not lat and not tools:
        return []
    fig, axes = figure(1, 2)
    if lat:
        grouped_bars(
            axes[0][0],
            ["p50", "p99"],
            {SUBJECT: [finite(lat.get("p50")), finite(lat.get("p99"))]},
            ylabel="close in SRC -> bytes at DEST, ms",
        )
        ax = axes[0][0]
        ax.set_ylim(0, max(ax.get_ylim()[1], 6.5))
        for x, target in ((0, 1.0), (1, 5.0)):
            ax.plot([x - 0.45, x + 0.45], [target, target], color="black", linestyle="--")
            ax.text(
                x,
                target,
                f"target <= {target:g} ms",
                ha="center",
                va="bottom",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
    if tools:
        grouped_bars(
            axes[0][1],
            ["one-shot sync", "no-change re-sync"],
            {t: [finite(v.get("sync_s")), finite(v.get("resync_s"))] for t, v in tools.items()},
            ylabel="wall s (log; lower is better)",
            log=True,
        )
        bulk = f["bulk"]
        axes[0][1].set_title(
            f"{bulk.get('files', '?'):,} files, {finite(bulk.get('mib')) or 0:.0f} MiB", fontsize=9
        )
    return [
        finish(
            fig,
            out / "replication.png",
            title="Replication to a local DEST",
            footnote=part.footnote(),
        )
    ]


DAEMON_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("until all policies are live, s", ("live_s",)),
    ("RSS once live, MiB", ("rss_mib",)),
    ("idle: CPU s and wake-ups (target 0)", ("idle_cpu_s", "idle_wakeups")),
    ("GET /api/v1/status under load, ms", ("status_p50_ms", "status_p99_ms")),
    ("lag of one save while the others are busy, ms", ("lag_p50_ms", "lag_p99_ms")),
)


def daemon(part: Part, out: Path) -> list[Path]:
    """The daemon's figures, fsreplica beside lsyncd, one panel per kind of figure."""
    medians = part.figures.get("medians") or {}
    ours = medians.get(SUBJECT) or {}
    if not ours:
        return []
    known = {k for _, keys in DAEMON_PANELS for k in keys}
    panels = [(label, [k for k in keys if k in ours]) for label, keys in DAEMON_PANELS]
    panels += [(key, [key]) for key in ours if key not in known and key != "status_requests"]
    panels = [(label, keys) for label, keys in panels if keys]
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = figure(rows, cols, width=12, height=3.4)
    for i, (label, keys) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        grouped_bars(
            ax,
            [k.replace("_", " ") for k in keys],
            {t: [finite(m.get(k)) for k in keys] for t, m in medians.items()},
            ylabel="",
        )
        ax.set_title(label, fontsize=9)
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    n, files = part.figures.get("policies"), part.figures.get("files_per_policy")
    return [
        finish(
            fig,
            out / "daemon.png",
            title=f"Daemon with {n} policies of {files} files each (lower is better)",
            footnote=part.footnote(),
        )
    ]


def polling(part: Part, out: Path) -> list[Path]:
    """CPU per poll per tree size, and every detection-latency sample per interval."""
    cost, latency = part.figures.get("cost") or {}, part.figures.get("latency") or {}
    if not cost and not latency:
        return []
    tools = [SUBJECT, *sorted({k.split("/")[0] for k in [*cost, *latency]} - {SUBJECT})]
    look = styles(tools)
    fig, axes = figure(1, 2)
    sizes = sorted({int(k.split("/")[1]) for k in cost})
    grouped_bars(
        axes[0][0],
        [f"{s:,} files" for s in sizes],
        {
            t: [median((cost.get(f"{t}/{s}") or {}).get("cpu_per_poll")) for s in sizes]
            for t in tools
        },
        ylabel="CPU s per poll (log; lower is better)",
        log=True,
    )
    intervals = sorted({float(k.split("/")[1]) for k in latency}, reverse=True)
    ax = axes[0][1]
    width = 0.8 / max(1, len(tools))
    for t, tool in enumerate(tools):
        for g, interval in enumerate(intervals):
            samples = (latency.get(f"{tool}/{interval}") or {}).get("latency") or []
            ys = [v for v in (finite(s) for s in samples) if v is not None]
            x = g - 0.4 + width * (t + 0.5)
            ax.scatter(
                [x] * len(ys),
                ys,
                marker=look[tool]["marker"],
                color=look[tool]["color"],
                s=18,
                label=tool if g == 0 else None,
            )
            ax.plot([x - width / 3, x + width / 3], [interval, interval], "k-", linewidth=0.8)
    ax.set_xticks(range(len(intervals)), [f"interval {i:g} s" for i in intervals])
    ax.set_ylabel("detection latency, s")
    ax.set_title("dots: every sample; line: the poll interval", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return [
        finish(
            fig,
            out / "polling.png",
            title="Polling backends: CPU per poll and detection latency",
            footnote=part.footnote(),
        )
    ]


def timed_rows(part: Part, out: Path) -> list[Path]:
    """Wall and CPU seconds of each timed row (crypt: per target), as horizontal bars."""
    if part.name == "crypt":
        groups = [(f"to {r.get('target')}", r.get("rows") or {}) for r in part.figures]
    else:
        groups = [("", part.figures.get("rows") or {})]
    groups = [(label, rows) for label, rows in groups if rows]
    if not groups:
        return []
    height = max(3.0, 0.32 * max(len(rows) for _, rows in groups) + 1.2)
    has_cpu = any(finite(r.get("cpu")) is not None for _, rows in groups for r in rows.values())
    panels = [("wall", "wall s"), ("cpu", "CPU s")] if has_cpu else [("wall", "wall s")]
    fig, axes = figure(len(groups), len(panels), width=12 if has_cpu else 9, height=height)
    for (label, rows), ax_row in zip(groups, axes, strict=True):
        names = list(rows)
        for ax, (key, unit) in zip(ax_row, panels, strict=True):
            hbars(
                ax,
                names,
                [finite(rows[n].get(key)) for n in names],
                xlabel=f"{unit} (lower is better)",
            )
            ax.set_title(label, fontsize=9)
        for ax in ax_row[1:]:
            ax.set_yticklabels([])
    titles = {
        "crypt": "What encryption costs: sync with and without --encrypt, beside rclone crypt",
        "s3": "S3 (Ceph RGW): fsreplica beside rclone",
        "azure": "Azure Blob (Azurite): fsreplica beside rclone",
        "gcs": "Google Cloud Storage (fake-gcs-server): fsreplica beside rclone",
        "restore": "Restore: fsreplica restore beside rclone copy",
    }
    return [
        finish(
            fig,
            out / f"{part.name}.png",
            title=titles.get(part.name, part.name),
            footnote=part.footnote(),
        )
    ]


FILES = {
    "watcher": (
        "watcher_latency.png",
        "watcher_burst.png",
        "watcher_paced.png",
        "watcher_ready.png",
    ),
    "sustained": ("sustained.png",),
    "small": ("scaling.png",),
    "small_ext4": ("scaling_ext4.png",),
    "replication": ("replication.png",),
    "daemon": ("daemon.png",),
    "polling": ("polling.png",),
    "crypt": ("crypt.png",),
    "s3": ("s3.png",),
    "azure": ("azure.png",),
    "gcs": ("gcs.png",),
    "restore": ("restore.png",),
}
"""The pictures each part may write (removed before it is drawn, so none is left from a run
that had figures this one lacks)."""

DRAW: dict[str, Callable[[Part, Path], list[Path]]] = {
    "watcher": watcher,
    "sustained": sustained,
    "small": small,
    "small_ext4": small,
    "replication": replication,
    "daemon": daemon,
    "polling": polling,
    "crypt": timed_rows,
    "s3": timed_rows,
    "azure": timed_rows,
    "gcs": timed_rows,
    "restore": timed_rows,
}
