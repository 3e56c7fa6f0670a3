"""The results section of docs/benchmarks.md: machine, load, commands, ratios and targets.

Every table puts fsreplica first and each peer beside it with fsreplica's advantage over it:
`2.5x` means fsreplica is 2.5 times better (faster, lighter), `0.5x` twice worse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from _plot_load import Part, finite, median

SUBJECT = "fsreplica"

Row = list[str]


def number(value: Any, unit: str = "") -> str:
    """A figure with three significant digits and thousands separators; "-" if missing."""
    v = finite(value)
    if v is None:
        return "-" if value is None else str(value)
    if v.is_integer() and abs(v) < 1e15:
        text = f"{int(v):,}"
    elif abs(v) >= 1000:
        text = f"{v:,.0f}"
    else:
        digits = max(0, 2 - math.floor(math.log10(abs(v))))
        text = f"{v:.{digits}f}"
    return text + unit


def advantage(ours: Any, theirs: Any, *, lower_is_better: bool = True) -> str:
    """fsreplica's advantage over a peer, as `1.5x` (above 1: fsreplica is better)."""
    a, b = finite(ours), finite(theirs)
    if a is None or b is None:
        return ""
    better, worse = (b, a) if lower_is_better else (a, b)
    if worse == 0:
        return "1x" if better == 0 else "infx"
    ratio = better / worse
    return f"{ratio:.2g}x" if ratio < 10 else f"{ratio:.0f}x"


def verdict(ok: bool | None) -> str:
    """A target's verdict in a cell."""
    return "" if ok is None else ("met" if ok else "**MISSED**")


def table(header: list[str], rows: list[Row]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return out


def peer_cell(ours: Any, theirs: Any, *, lower_is_better: bool = True, unit: str = "") -> str:
    """A peer's value with fsreplica's advantage over it."""
    ratio = advantage(ours, theirs, lower_is_better=lower_is_better)
    return number(theirs, unit) + (f" ({ratio})" if ratio else "")


def _watch_metrics() -> dict[tuple[str, str], Any]:
    """The watcher's metric definitions, by (scenario, key), if its report module loads."""
    try:
        import _watch_report  # noqa: PLC0415  (beside this file; the watcher's own definitions)
    except ImportError:
        return {}
    return {(m.scenario, m.key): m for m in _watch_report.METRICS}


def watcher(part: Part) -> list[str]:
    """Every row of the watcher's summary that has a target or a meaningful ratio."""
    summary = part.figures.get("summary") or []
    metrics = _watch_metrics()
    peers = {t for row in summary for t in row.get("values", {}) if t != SUBJECT}
    order = ["watchfiles", "watchdog", "inotifywait", "naive"]
    tools = [SUBJECT, *sorted(peers, key=lambda t: (order.index(t) if t in order else 99, t))]
    rows = []
    for row in summary:
        metric = metrics.get((row.get("scenario"), row.get("metric")))
        target = row.get("target")
        wants_ratio = metric.ratio if metric is not None else True
        if not target and not wants_ratio:
            continue
        lower = metric.lower_is_better if metric is not None else not str(target).startswith(">")
        values = row.get("values", {})
        ours = values.get(SUBJECT)
        cells = [f"{row.get('scenario')} {row.get('variant')}", str(row.get("label")), target or ""]
        cells.append(number(ours))
        for tool in tools[1:]:
            theirs = values.get(tool)
            cells.append(
                peer_cell(ours, theirs, lower_is_better=lower) if wants_ratio else number(theirs)
            )
        v = row.get("verdict")
        cells.append("" if not v else ("met" if v == "met" else "**MISSED**"))
        rows.append(cells)
    return table(["scenario", "metric", "target", *tools, "verdict"], rows)


def sustained(part: Part) -> list[str]:
    """Per writer rate: written vs replicated, lag, convergence, CPU, RSS; the targets.

    The lag target is each row's own (`lag_target_s`: 1 s to a local DEST, 2 s to Ceph RGW);
    rows to an object store also give the requests per file and the servers' CPU per file.
    """
    found = part.figures.get("sustained") or []
    servers = any("requests_per_file" in r for r in found)
    rows = []
    for r in found:
        written, replicated = finite(r.get("written_per_s")), finite(r.get("replicated_per_s"))
        p99, converged = finite(r.get("lag_p99_s")), finite(r.get("converged_s"))
        lag_target = finite(r.get("lag_target_s")) or 1.0
        keeps_up = None if written is None or replicated is None else replicated >= 0.99 * written
        ok = (
            None
            if keeps_up is None or p99 is None or converged is None
            else (keeps_up and p99 <= lag_target and converged <= 1.0 and not r.get("missing"))
        )
        ratio = "" if not written or replicated is None else f"{replicated / written:.2f}x"
        cells = [
            number(r.get("rate")),
            number(written),
            f"{number(replicated)} ({ratio})" if ratio else number(replicated),
            number(r.get("missing")),
            number(r.get("lag_p50_s"), " s"),
            number(p99, " s"),
            number(converged, " s"),
            number(r.get("cpu_us_per_file"), " µs"),
            f"{number(r.get('rss_start_mib'))} -> {number(r.get('rss_end_mib'))} MiB",
        ]
        if servers:
            cells += [
                number(r.get("requests_per_file")),
                number(r.get("server_cpu_us_per_file"), " µs"),
            ]
        rows.append([*cells, verdict(ok)])
    targets = sorted({finite(r.get("lag_target_s")) or 1.0 for r in found}) or [1.0]
    lag = " or ".join(f"{number(t)} s" for t in targets)
    header = [
        "rate/s",
        "written/s",
        "replicated/s (of written)",
        "missing",
        "lag p50",
        "lag p99",
        "converged",
        "CPU/file",
        "RSS",
        *(["requests/file", "server CPU/file"] if servers else []),
        f"target: keeps up, p99 <= {lag}, converged <= 1 s",
    ]
    return table(header, rows)


SMALL_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("one-shot sync wall", "sync_wall_s", " s", "rsync"),
    ("one-shot sync CPU", "sync_cpu_s", " s", "rsync"),
    ("one-shot sync peak RSS", "sync_peak_rss_mb", " MB", "250"),
    ("no-change re-sync wall", "resync_wall_s", " s", "rsync"),
    ("no-change re-sync CPU", "resync_cpu_s", " s", "rsync"),
    ("no-change re-sync peak RSS", "resync_peak_rss_mb", " MB", ""),
    ("state file", "state_mb", " MB", ""),
)


def small(part: Part) -> list[str]:
    """Per tree size: sync, re-sync and start-up against rsync and rclone."""
    sizes = part.figures.get("sizes") or {}
    peers = _peer_order({t for s in sizes.values() for t in s.get("tools", {})})
    rows = []
    for size, entry in sorted(sizes.items(), key=lambda kv: int(kv[0])):
        tools = entry.get("tools", {})
        ours_all = tools.get(SUBJECT, {})
        for label, key, unit, target in SMALL_ROWS:
            ours = ours_all.get(key)
            if ours is None and not any(key in tools.get(p, {}) for p in peers):
                continue
            cells = [f"{int(size):,}", label, number(ours, unit)]
            cells += [peer_cell(ours, tools.get(p, {}).get(key), unit=unit) for p in peers]
            cells += _small_target(ours, tools.get(target, {}).get(key), target)
            rows.append(cells)
        startup = ours_all.get("startup_live_s")
        if startup is not None:
            rsync_resync = tools.get("rsync", {}).get("resync_wall_s")
            cells = [f"{int(size):,}", "`replicate` start-up until live", number(startup, " s")]
            cells += [""] * len(peers)
            cells += _small_target(startup, rsync_resync, "rsync re-sync")
            rows.append(cells)
    return table(["files", "row", SUBJECT, *peers, "target", "verdict"], rows)


def _peer_order(tools: set[str]) -> list[str]:
    """The peers of `tools`, the reference (rsync) first."""
    order = ["rsync", "rclone"]
    peers = tools - {SUBJECT}
    return sorted(peers, key=lambda t: (order.index(t) if t in order else len(order), t))


def _small_target(ours: Any, reference: Any, target: str) -> list[str]:
    a = finite(ours)
    if not target or a is None:
        return ["", ""]
    if target.isdigit():
        return [f"<= {target} MB", verdict(a <= float(target))]
    b = finite(reference)
    return [f"<= {target} ({number(b)})", verdict(None if b is None else a <= b)]


def replication(part: Part) -> list[str]:
    """Close -> DEST latency, bulk sync and re-sync against rsync and rclone, convergence."""
    f = part.figures
    out: list[str] = []
    lat = f.get("latency_ms") or {}
    if lat:
        p50, p99 = finite(lat.get("p50")), finite(lat.get("p99"))
        out += table(
            ["close in SRC -> bytes at DEST", SUBJECT, "target", "verdict"],
            [
                ["p50", number(p50, " ms"), "<= 1 ms", verdict(None if p50 is None else p50 <= 1)],
                ["p99", number(p99, " ms"), "<= 5 ms", verdict(None if p99 is None else p99 <= 5)],
            ],
        )
        out.append("")
    bulk = f.get("bulk") or {}
    tools = bulk.get("tools") or {}
    ours_name = next((t for t in tools if t.startswith(SUBJECT)), None)
    if ours_name:
        peers = [t for t in tools if t != ours_name]
        reference = next((t for t in peers if t.startswith("rsync -a")), None)
        rows = []
        for label, key in (("one-shot sync", "sync_s"), ("no-change re-sync", "resync_s")):
            ours = tools[ours_name].get(key)
            ref = finite(tools.get(reference, {}).get(key)) if reference else None
            ok = None if ref is None or finite(ours) is None else finite(ours) <= ref  # type: ignore[operator]
            cells = [label, number(ours, " s")]
            cells += [peer_cell(ours, tools[p].get(key), unit=" s") for p in peers]
            cells += [f"<= {reference}" if reference else "", verdict(ok)]
            rows.append(cells)
        files, mib = bulk.get("files"), bulk.get("mib")
        head = f"{number(files)} files, {number(mib)} MiB"
        out += table([head, SUBJECT, *peers, "target", "verdict"], rows)
        out.append("")
    conv = f.get("convergence_s") or {}
    if conv:
        out.append(
            f"Convergence (replicate, {number(conv.get('files'))} files written at once, "
            f"until all are at DEST): median {number(conv.get('median'), ' s')}."
        )
    return out


DAEMON_LABELS = {
    "live_s": "until all policies are live, s",
    "rss_mib": "RSS once live, MiB",
    "idle_cpu_s": "idle CPU s (target 0)",
    "idle_wakeups": "idle wake-ups (target 0)",
    "status_p50_ms": "GET /api/v1/status under load p50, ms",
    "status_p99_ms": "GET /api/v1/status under load p99, ms",
    "status_requests": "status requests answered",
    "lag_p50_ms": "lag of one save while the others are busy p50, ms",
    "lag_p99_ms": "lag of one save while the others are busy p99, ms",
}


def daemon(part: Part) -> list[str]:
    """Each daemon figure for fsreplica and lsyncd, with fsreplica's advantage."""
    f = part.figures
    medians = f.get("medians") or {}
    ours = medians.get(SUBJECT, {})
    peers = [k for k in medians if k != SUBJECT]
    rows = [
        [DAEMON_LABELS.get(key, key), number(value)]
        + [peer_cell(value, medians[p].get(key)) for p in peers]
        for key, value in ours.items()
    ]
    head = [f"{number(f.get('policies'))} policies x {number(f.get('files_per_policy'))} files"]
    return table([*head, SUBJECT, *peers], rows)


def polling(part: Part) -> list[str]:
    """CPU per poll, RSS growth and detection latency against the peers' pollers."""
    f = part.figures
    cost, latency = f.get("cost") or {}, f.get("latency") or {}
    tools = [SUBJECT, *sorted({k.split("/")[0] for k in [*cost, *latency]} - {SUBJECT})]
    rows = []
    for size in sorted({int(k.split("/")[1]) for k in cost}):
        cpu = {t: median((cost.get(f"{t}/{size}") or {}).get("cpu_per_poll")) for t in tools}
        rows.append(
            [f"CPU per poll, {size:,} files", number(cpu[SUBJECT], " s")]
            + [peer_cell(cpu[SUBJECT], cpu[t], unit=" s") for t in tools[1:]]
        )
        growth = {t: (cost.get(f"{t}/{size}") or {}).get("rss_growth_kib") for t in tools}
        rows.append(
            [f"RSS growth between polls, {size:,} files"]
            + [number(growth[t], " KiB") for t in tools]
        )
    for interval in sorted({float(k.split("/")[1]) for k in latency}, reverse=True):
        med = {t: median((latency.get(f"{t}/{interval}") or {}).get("latency")) for t in tools}
        rows.append(
            [f"detection latency, interval {number(interval)} s", number(med[SUBJECT], " s")]
            + [peer_cell(med[SUBJECT], med[t], unit=" s") for t in tools[1:]]
        )
    out = table(["measure", *tools], rows)
    burst = f.get("burst") or {}
    if burst:
        out += [
            "",
            f"Portable backend, {number(burst.get('files'))}-file burst into new directories: "
            f"{number(burst.get('lost'))} lost, {number(burst.get('seconds'), ' s')}, "
            f"{number(burst.get('cpu'), ' CPU s')}.",
        ]
    return out


CRYPT_TARGETS = {"fsreplica encrypt/plain wall": 1.15, "fsreplica encrypt/plain cpu": 1.25}
"""crypt_bench.py's targets: what --encrypt may cost over a plain sync."""


def crypt(part: Part) -> list[str]:
    """Wall and CPU of each sync mode per target, and the cost of encryption against its target."""
    out: list[str] = []
    for result in part.figures:
        rows = [
            [name, number(row.get("wall"), " s"), number(row.get("cpu"), " s")]
            for name, row in (result.get("rows") or {}).items()
        ]
        out += table([f"to {result.get('target')}", "wall", "CPU"], rows)
        out.append("")
        ratios = []
        for name, value in (result.get("ratios") or {}).items():
            limit = CRYPT_TARGETS.get(name)
            v = finite(value)
            ok = None if limit is None or v is None else v <= limit
            ratios.append([name, number(value), f"<= {limit}" if limit else "", verdict(ok)])
        if ratios:
            out += table([f"ratio ({result.get('target')})", "value", "target", "verdict"], ratios)
            out.append("")
    return out


def rows_part(part: Part) -> list[str]:
    """A script's timed rows (wall, CPU), then fsreplica against the peer row by row."""
    f = part.figures
    rows = f.get("rows") or {}
    size = ""
    if f.get("files") is not None:
        size = f"{number(f.get('files'))} files, {number(f.get('mib'))} MiB; "
    head = f"{size}medians of {number(f.get('repeat'))}" if f.get("repeat") else size.strip("; ")
    has_cpu = any(finite(r.get("cpu")) is not None for r in rows.values())
    keys = ["wall", "cpu"] if has_cpu else ["wall"]
    out = table(
        [head or "row", *(k.replace("cpu", "CPU") for k in keys)],
        [[name, *(number(r.get(k), " s") for k in keys)] for name, r in rows.items()],
    )
    pairs = [p for p in f.get("pairs") or [] if p[1] in rows and p[2] in rows]
    if pairs:
        out.append("")
        cells = []
        for label, ours_name, peer_name in pairs:
            ours, peer = rows[ours_name], rows[peer_name]
            cells.append(
                [
                    label,
                    " / ".join(number(ours.get(k), " s") for k in keys),
                    " / ".join(number(peer.get(k), " s") for k in keys),
                    *(advantage(ours.get(k), peer.get(k)) for k in keys),
                ]
            )
        what = " / ".join(k.replace("cpu", "CPU") for k in keys)
        out += table(
            ["row", f"fsreplica {what}", f"peer {what}", *(f"advantage, {k}" for k in keys)],
            cells,
        )
    lat = f.get("latency_ms") or {}
    if lat:
        out += [
            "",
            f"`replicate`, an isolated 4 KiB write until the object is visible: p50 "
            f"{number(lat.get('p50'), ' ms')}, p90 {number(lat.get('p90'), ' ms')}.",
        ]
    return out


TABLES: dict[str, Callable[[Part], list[str]]] = {
    "watcher": watcher,
    "sustained": sustained,
    "sustained_rgw": sustained,
    "small": small,
    "small_ext4": small,
    "replication": replication,
    "daemon": daemon,
    "polling": polling,
    "crypt": crypt,
    "s3": rows_part,
    "azure": rows_part,
    "gcs": rows_part,
    "restore": rows_part,
}
