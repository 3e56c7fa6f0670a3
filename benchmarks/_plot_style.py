"""Shared look of the benchmark plots: one colour, marker, hatch and line per tool, and footnotes.

Colours are Okabe and Ito's palette, which people with the common colour-vision deficiencies
tell apart; every tool also has its own marker, hatch and line style, so that a plot printed in
grey still reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt  # (imported after the backend is chosen)
from matplotlib.ticker import FuncFormatter, NullLocator

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#000000",  # black
    "#F0E442",  # yellow
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "--", "oo")
VARIANT_HATCHES = ("..", "||", "oo")
VARIANT_MARKERS = ("h", "p", "<")
LINES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 2)), (0, (6, 2, 1, 2)))

KNOWN = {
    "fsreplica": 0,  # blue
    "watchfiles": 1,  # orange
    "watchdog": 2,  # bluish green
    "inotifywait": 3,  # reddish purple
    "naive": 4,  # sky blue
    "rsync": 5,  # vermillion
    "rclone": 3,  # reddish purple: never in one plot with inotifywait
    "lsyncd": 1,  # orange: only ever beside fsreplica
}
"""Tools with a fixed colour (an index into OKABE_ITO), so a tool looks the same in every plot.
The marker, hatch and line style follow the tool's place in this table."""

DPI = 110


def _index(tool: str) -> tuple[int, int]:
    """The tool's colour and its place among the known tools ("rsync ... --fsync" is rsync's)."""
    for place, (name, colour) in enumerate(KNOWN.items()):
        if tool.startswith(name) or tool.endswith(name):
            return colour, place
    place = sum(map(ord, tool)) % len(MARKERS)  # stable from run to run, unlike hash()
    return place % len(OKABE_ITO), place


def style(tool: str, variant: int = 0) -> dict[str, Any]:
    """The colour, marker, hatch and line style of `tool`; `variant` N > 0 is its Nth variant."""
    colour, place = _index(tool)
    look = {
        "color": OKABE_ITO[colour],
        "marker": MARKERS[place],
        "hatch": HATCHES[place],
        "linestyle": LINES[place],
    }
    if variant:  # same colour, its own hatch and marker: "rsync ... --fsync" beside "rsync -a"
        k = (variant - 1) % len(VARIANT_HATCHES)
        look.update(hatch=VARIANT_HATCHES[k], marker=VARIANT_MARKERS[k], linestyle=":")
    return look


def styles(tools: list[str]) -> dict[str, dict[str, Any]]:
    """A distinct style for each of `tools`, variants of one tool included."""
    out: dict[str, dict[str, Any]] = {}
    used: dict[int, int] = {}
    for tool in tools:
        _, place = _index(tool)
        out[tool] = style(tool, used.get(place, 0))
        used[place] = used.get(place, 0) + 1
    return out


def figure(rows: int, cols: int, *, width: float = 10.0, height: float = 4.2) -> Any:
    """A figure of rows x cols axes, sized for a docs page."""
    fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False)
    return fig, axes


def finish(fig: Any, path: Path, *, title: str, footnote: str) -> Path:
    """Title the figure, print the run's machine, load and commit under it, and save it."""
    fig.suptitle(title, fontsize=12, fontweight="bold")
    fig.text(0.01, 0.005, footnote, fontsize=7, color="#333333", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def short(value: float) -> str:
    """A bar's value in at most four characters or so: 0.0123, 4.56, 789, 12k, 1.2M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.2g}k"
    return f"{value:.3g}"


def grouped_bars(
    ax: Any,
    groups: list[str],
    series: dict[str, list[float | None]],
    *,
    ylabel: str,
    log: bool = False,
    target: float | None = None,
    target_label: str = "target",
) -> None:
    """One group of bars per entry of `groups`, one bar per tool (hatched), missing ones marked."""
    tools = list(series)
    look = styles(tools)
    width = 0.8 / max(1, len(tools))
    turn = 90 if len(groups) * len(tools) > 12 else 0  # upright labels collide on many bars
    for t, tool in enumerate(tools):
        for g, value in enumerate(series[tool]):
            x = g - 0.4 + width * (t + 0.5)
            if value is None or (log and value <= 0):
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
                continue
            ax.bar(
                x,
                value,
                width,
                color=look[tool]["color"],
                hatch=look[tool]["hatch"],
                edgecolor="black",
                linewidth=0.5,
                label=tool if g == 0 or all(v is None for v in series[tool][:g]) else None,
            )
            ax.text(x, value, short(value), ha="center", va="bottom", fontsize=6, rotation=turn)
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=1, label=target_label)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
        _plain_ticks(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    _headroom(ax, log=log)
    ax.legend(fontsize=7, ncol=min(3, len(tools) + 1))


def hbars(ax: Any, names: list[str], values: list[float | None], *, xlabel: str) -> None:
    """One horizontal bar per row, named on the y axis, coloured and hatched by its tool."""
    look = styles(names)
    for y, (name, value) in enumerate(zip(names, values, strict=True)):
        if value is None:
            ax.text(0, y, " n/a", va="center", fontsize=7)
            continue
        ax.barh(
            y,
            value,
            color=look[name]["color"],
            hatch=look[name]["hatch"],
            edgecolor="black",
            linewidth=0.5,
        )
        ax.text(value, y, f" {value:.3g}", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()  # the first row on top, as in the table
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    high = ax.get_xlim()[1]
    ax.set_xlim(0, high * 1.15)


def lines(
    ax: Any,
    xs: list[float],
    series: dict[str, list[float | None]],
    *,
    xlabel: str,
    ylabel: str,
    target: float | None = None,
    target_label: str = "target",
) -> None:
    """One line per tool over `xs` (log-log), each with its own marker and line style."""
    look = styles(list(series))
    for tool, ys in series.items():
        points = [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None and y > 0]
        if not points:
            continue
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=look[tool]["color"],
            marker=look[tool]["marker"],
            linestyle=look[tool]["linestyle"],
            label=tool,
        )
    if target is not None:
        ax.axhline(target, color="black", linestyle=":", linewidth=1, label=target_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{x:,.0f}" for x in xs])
    ax.xaxis.set_minor_locator(NullLocator())
    _plain_ticks(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    _headroom(ax, log=True)
    ax.legend(fontsize=7)


def _plain_ticks(axis: Any) -> None:
    """Label a log axis 0.05, 2, 300 rather than powers of ten, minor ticks too (short ranges)."""

    def minor(value: float, _pos: int) -> str:
        low, high = axis.get_view_interval()
        return f"{value:g}" if low > 0 and high / low < 30 else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def _headroom(ax: Any, *, log: bool) -> None:
    """Room above the highest bar or point for the legend."""
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 4 if log else high * 1.3)
