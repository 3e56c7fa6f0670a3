"""Turns the per-round results into medians, ratios against each peer, and a text table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SUBJECT = "fsreplica"


@dataclass(frozen=True)
class Metric:
    """How one number is summarised and judged.

    Attributes:
        scenario: The scenario that produces it.
        key: Its name in a worker's result.
        label: What the table calls it.
        lower_is_better: Which way is better; decides the ratio and the target check.
        target: fsreplica's goal from the issue, if there is one.
        worst: Summarise with the worst round instead of the median (losses must be 0 in every
            round, not in most).
        ratio: Whether a ratio against the peers means anything (not for counts of losses).
    """

    scenario: str
    key: str
    label: str
    lower_is_better: bool = True
    target: float | None = None
    worst: bool = False
    ratio: bool = True

    def summarise(self, values: list[float]) -> float:
        if self.worst:
            return max(values) if self.lower_is_better else min(values)
        return statistics.median(values)

    def meets(self, value: float) -> bool:
        assert self.target is not None
        return value <= self.target if self.lower_is_better else value >= self.target

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'<=' if self.lower_is_better else '>='} {_number(self.target)}"

    def advantage(self, subject: float, peer: float) -> float:
        """How many times better fsreplica is than the peer (below 1: worse)."""
        better, worse = (peer, subject) if self.lower_is_better else (subject, peer)
        if worse == 0:
            return 1.0 if better == 0 else math.inf
        return better / worse


METRICS: tuple[Metric, ...] = (
    Metric("latency", "p50_ms", "close->event p50 ms", target=0.15),
    Metric("latency", "p99_ms", "close->event p99 ms", target=1.0),
    Metric("latency", "missed", "samples never delivered", worst=True, ratio=False),
    Metric("burst", "lost", "paths lost (worst round)", target=0, worst=True, ratio=False),
    Metric("burst", "paths_per_cpu_s", "paths / CPU s", lower_is_better=False, target=100_000),
    Metric("burst", "late", "paths only at stop() (worst)", worst=True, ratio=False),
    Metric("burst", "wall_s", "last event after start, s"),
    Metric("burst", "write_s", "writer busy s (same for all)", ratio=False),
    Metric("burst", "overflows", "kernel queue overflows", worst=True, ratio=False),
    Metric("paced", "lost", "paths lost (worst round)", target=0, worst=True, ratio=False),
    Metric("paced", "paths_per_cpu_s", "paths / CPU s", lower_is_better=False),
    Metric("paced", "switches_per_path", "context switches / path"),
    Metric("paced", "write_s", "writer busy s (same for all)", ratio=False),
    Metric("race", "lost", "paths lost (worst round)", target=0, worst=True, ratio=False),
    Metric("race", "late", "paths only at stop() (worst)", worst=True, ratio=False),
    Metric("race", "paths_per_cpu_s", "paths / CPU s", lower_is_better=False),
    Metric("ready", "ready_s", "ready s", target=0.25),
    Metric("ready", "rss_mb", "RSS after ready MB", target=25),
    Metric("ready", "peak_rss_mb", "peak RSS MB"),
    Metric("ready", "import_rss_mb", "RSS before watching MB", ratio=False),
    Metric("ready", "python_rss_mb", "RSS before import MB", ratio=False),
    Metric("overflow", "lost", "paths lost (worst round)", target=0, worst=True, ratio=False),
    Metric("overflow", "late", "paths only at stop() (worst)", worst=True, ratio=False),
    Metric("overflow", "resume_to_all_s", "resume->all reported s", target=0.1),
    Metric("overflow", "overflows", "overflows noticed", worst=True, ratio=False),
    Metric("idle", "cpu_ms", "CPU ms while idle", target=0),
    Metric("idle", "wakeups_per_s", "wakeups / s", target=0),
)


@dataclass(frozen=True)
class Row:
    """One line of the table: a metric of a scenario variant, summarised for every tool."""

    metric: Metric
    variant: str
    values: dict[str, float | None]
    rounds: dict[str, int]
    errors: dict[str, str]

    def verdict(self) -> str:
        value = self.values.get(SUBJECT)
        if self.metric.target is None or value is None:
            return ""
        return "met" if self.metric.meets(value) else "MISSED"


def summarise(runs: Iterable[dict[str, Any]], tools: list[str]) -> list[Row]:
    """Group the runs by scenario variant and summarise every metric for every tool."""
    grouped: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        by_tool = grouped.setdefault((run["scenario"], run["variant"]), {})
        by_tool.setdefault(run["tool"], []).append(run)
    rows: list[Row] = []
    for (scenario, variant), by_tool in grouped.items():
        for metric in (m for m in METRICS if m.scenario == scenario):
            values: dict[str, float | None] = {}
            rounds: dict[str, int] = {}
            errors: dict[str, str] = {}
            for tool in tools:
                tool_runs = by_tool.get(tool, [])
                numbers = _numbers(tool_runs, metric.key)
                values[tool] = metric.summarise(numbers) if numbers else None
                rounds[tool] = len(numbers)
                failed = [r["error"] for r in tool_runs if r.get("error")]
                if failed:
                    errors[tool] = failed[0]
            if any(v is not None for v in values.values()):
                rows.append(Row(metric, variant, values, rounds, errors))
    return rows


def _numbers(runs: list[dict[str, Any]], key: str) -> list[float]:
    out = []
    for run in runs:
        value = (run.get("metrics") or {}).get(key)
        if isinstance(value, (int, float)) and not math.isnan(value):
            out.append(float(value))
    return out


def render(rows: list[Row], tools: list[str]) -> str:
    """The results table: fsreplica, then each peer with fsreplica's advantage over it."""
    peers = [t for t in tools if t != SUBJECT]
    header = ["scenario", "metric", "target", SUBJECT, *peers, "verdict"]
    lines = [header]
    for row in rows:
        subject = row.values.get(SUBJECT)
        cells = [
            f"{row.metric.scenario} {row.variant}",
            row.metric.label,
            row.metric.target_text(),
            _number(subject),
        ]
        for peer in peers:
            cells.append(_peer_cell(row, subject, row.values.get(peer)))
        cells.append(row.verdict())
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(t.rstrip() for t in text)


def _peer_cell(row: Row, subject: float | None, peer: float | None) -> str:
    if peer is None:
        return "-"
    if not row.metric.ratio or subject is None:
        return _number(peer)
    advantage = row.metric.advantage(subject, peer)
    if math.isinf(advantage):
        shown = "inf"
    elif advantage >= 100:
        shown = f"{advantage:,.0f}"
    else:
        shown = f"{advantage:.2g}"
    return f"{_number(peer)} ({shown}x)"


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    size = abs(value)
    if value == int(value) and size < 1e15:
        return f"{int(value):,}"
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def errors_text(rows: list[Row]) -> str:
    """One line per tool and scenario that failed in some round."""
    seen: set[tuple[str, str, str]] = set()
    lines = []
    for row in rows:
        for tool, error in row.errors.items():
            key = (row.metric.scenario, row.variant, tool)
            if key not in seen:
                seen.add(key)
                lines.append(f"  {row.metric.scenario} {row.variant} {tool}: {error}")
    return "\n".join(lines)


def to_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The summary as plain data for --json."""
    return [
        {
            "scenario": row.metric.scenario,
            "variant": row.variant,
            "metric": row.metric.key,
            "label": row.metric.label,
            "target": row.metric.target_text() or None,
            "verdict": row.verdict() or None,
            "values": row.values,
            "rounds": row.rounds,
        }
        for row in rows
    ]
