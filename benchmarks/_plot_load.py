"""Reads benchmark JSON files into parts: what each script measured, where and under what load.

A file is either perf_bench.py's combined report (`meta` plus one key per part, each with its
command, load averages and the script's own `--json` under `figures`) or the `--json` file of
one script, recognised by its shape.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PERF_PARTS = ("watcher", "sustained", "sustained_rgw", "small", "small_ext4", "replication")
"""The parts perf_bench.py runs, in its order."""

OTHER_PARTS = ("daemon", "polling", "crypt", "s3", "azure", "gcs", "restore")
"""Scripts whose `--json` file plot.py reads on its own."""

SCRIPTS = {
    "watcher": "watcher_bench.py",
    "sustained": "sustained_bench.py",
    "sustained_rgw": "sustained_bench.py",
    "small": "smallfiles_bench.py",
    "small_ext4": "smallfiles_bench.py",
    "replication": "replication_bench.py",
    "daemon": "daemon_bench.py",
    "polling": "polling_bench.py",
    "crypt": "crypt_bench.py",
    "s3": "s3_bench.py",
    "azure": "azure_bench.py",
    "gcs": "gcs_bench.py",
    "restore": "restore_bench.py",
}

ROWS_PARTS = ("s3", "azure", "gcs", "restore")
"""Scripts that time rows of whole commands and write _rows_json.py's shape."""


@dataclass
class Part:
    """One benchmark's figures with the circumstances of its run.

    Attributes:
        name: The part (`watcher`, `sustained`, ..., `daemon`, `polling`, `crypt`).
        figures: The script's own JSON output.
        source: The file it was read from.
        command: The command that produced it, relative to the repository, if recorded.
        load_before: The load average (1, 5, 15 min) when it started, if recorded.
        load_after: The load average when it ended, if recorded.
        seconds: How long it ran, if recorded.
        machine: The machine it ran on, in words ("" if not recorded).
        commit: The fsreplica commit it measured ("" if not recorded).
        quick: Whether it was a smoke run (`--quick`), whose figures are not the ones to quote.
    """

    name: str
    figures: Any
    source: Path
    command: list[str] | None = None
    load_before: list[float] | None = None
    load_after: list[float] | None = None
    seconds: float | None = None
    machine: str = ""
    commit: str = ""
    quick: bool = False

    def load_text(self) -> str:
        """The load averages of the run, for a footnote."""
        if self.load_before and self.load_after:
            return f"load {_load(self.load_before)} -> {_load(self.load_after)}"
        if self.load_before:
            return f"load {_load(self.load_before)} at start"
        if self.load_after:
            return f"load {_load(self.load_after)} at end"
        return "load not recorded"

    def footnote(self) -> str:
        """Machine, load average and commit in one line, for every plot of this part."""
        machine = self.machine or "machine not recorded"
        commit = f"commit {self.commit}" if self.commit else "commit not recorded"
        return f"{machine}; {self.load_text()}; {commit}"

    def command_text(self) -> str:
        """The command line that reproduces the figures."""
        command = _drop_json(self.command)
        if command:
            return "python3 " + " ".join(_relative(arg) for arg in command)
        return f"python3 benchmarks/{SCRIPTS.get(self.name, '?')} --json FILE"


def _load(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values[:3])


def _relative(arg: str) -> str:
    """An absolute path into the repository's benchmarks/ as `benchmarks/NAME`."""
    if "/benchmarks/" in arg and arg.startswith("/"):
        return "benchmarks/" + arg.rsplit("/benchmarks/", 1)[1]
    return arg


def read(paths: list[Path]) -> tuple[dict[str, Part], list[str]]:
    """Every part found in `paths`, and one note per file or part that could not be used."""
    parts: dict[str, Part] = {}
    notes: list[str] = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            notes.append(f"{path}: cannot read: {exc}")
            continue
        found = _combined(data, path, notes) if _is_combined(data) else _single(data, path)
        if found is None:
            notes.append(f"{path}: not a benchmark result plot.py knows (skipped)")
            continue
        for part in found:
            if part.name in parts:
                notes.append(f"{path}: {part.name} given twice; the later file is used")
            parts[part.name] = part
    return parts, notes


def _is_combined(data: Any) -> bool:
    return isinstance(data, dict) and "meta" in data and any(k in data for k in PERF_PARTS)


def _combined(data: dict[str, Any], path: Path, notes: list[str]) -> list[Part]:
    meta = data.get("meta") or {}
    found = []
    for name in PERF_PARTS:
        entry = data.get(name)
        if not isinstance(entry, dict):
            continue
        figures = entry.get("figures")
        if not figures:
            reason = entry.get("error") or f"exit status {entry.get('exit')}"
            notes.append(f"{path}: {name} has no figures ({reason}); skipped")
            continue
        found.append(
            Part(
                name=name,
                figures=figures,
                source=path,
                command=entry.get("command"),
                load_before=entry.get("loadavg_before"),
                load_after=entry.get("loadavg_after"),
                seconds=entry.get("seconds"),
                machine=_machine(meta, data),
                commit=str(meta.get("commit") or ""),
                quick=bool(meta.get("quick")),
            )
        )
    return found


def _machine(meta: dict[str, Any], data: dict[str, Any]) -> str:
    """The machine in words, from perf_bench's meta or the watcher's own meta."""
    machine = meta.get("machine")
    if isinstance(machine, str) and machine:
        return machine
    watcher_meta = ((data.get("watcher") or {}).get("figures") or {}).get("meta") or {}
    return _machine_words(
        cpus=meta.get("cpus") or watcher_meta.get("cpus"),
        kernel=watcher_meta.get("kernel"),
        python=watcher_meta.get("python"),
    )


def _machine_words(*, cpus: Any, kernel: Any, python: Any) -> str:
    words = []
    if cpus:
        words.append(f"{cpus} CPUs")
    if kernel:
        words.append(f"Linux {kernel}")
    if python:
        words.append(f"Python {python}")
    return ", ".join(words)


def _single(data: Any, path: Path) -> list[Part] | None:
    """A script's own --json file, recognised by its keys."""
    if isinstance(data, list) and data and all(isinstance(r, dict) and "rows" in r for r in data):
        loads = [r.get("load") or [None, None] for r in data]
        return [
            Part(
                "crypt",
                data,
                path,
                load_before=_floats(loads[0][0]),
                load_after=_floats(loads[-1][1]),
            )
        ]
    if not isinstance(data, dict):
        return None
    if data.get("bench") in ROWS_PARTS and isinstance(data.get("rows"), dict):
        return [
            Part(
                str(data["bench"]),
                data,
                path,
                command=data.get("command"),
                load_before=data.get("loadavg_before"),
                load_after=data.get("loadavg_after"),
                machine=str(data.get("machine") or ""),
                commit=str(data.get("commit") or ""),
            )
        ]
    if "summary" in data and "runs" in data:
        meta = data.get("meta") or {}
        command = str(meta.get("command") or "").split()[1:] or None
        return [
            Part(
                "watcher",
                data,
                path,
                command=_drop_json(command),
                load_before=meta.get("load_avg_at_start"),
                machine=_machine_words(
                    cpus=meta.get("cpus"), kernel=meta.get("kernel"), python=meta.get("python")
                ),
                commit=str(meta.get("fsreplica_source") or ""),
                quick=bool(meta.get("quick")),
            )
        ]
    if isinstance(data.get("sustained"), list):
        rows = data["sustained"]
        first, last = (rows[0], rows[-1]) if rows else ({}, {})
        name = "sustained_rgw" if data.get("dest") == "rgw" else "sustained"
        return [
            Part(
                name,
                data,
                path,
                command=_drop_json(data.get("command")),
                load_before=data.get("loadavg_before"),
                load_after=last.get("loadavg") or first.get("loadavg"),
                machine=str(data.get("machine") or ""),
                commit=str(data.get("commit") or ""),
            )
        ]
    if isinstance(data.get("sizes"), dict):
        name = "small_ext4" if data.get("fs") == "ext4" else "small"
        return [Part(name, data, path, load_before=data.get("loadavg_start"))]
    if "bulk" in data or "latency_ms" in data:
        return [Part("replication", data, path, load_before=data.get("loadavg_start"))]
    if "medians" in data and "policies" in data:
        return [Part("daemon", data, path, load_after=_floats(data.get("load_average_end")))]
    if "cost" in data and "latency" in data:
        return [Part("polling", data, path)]
    return None


def _drop_json(command: list[str] | None) -> list[str] | None:
    """A recorded command without its `--json FILE` (a temporary file)."""
    if not command:
        return None
    out: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        else:
            out.append(arg)
    return out


def _floats(value: Any) -> list[float] | None:
    """Load averages recorded as a list or as "0.08 0.02 0.01"."""
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def finite(value: Any) -> float | None:
    """A number fit to plot, or None (missing, NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def median(values: Any) -> float | None:
    """The median of the finite numbers in `values`, or None if there are none."""
    numbers = sorted(v for v in (finite(x) for x in values or []) if v is not None)
    if not numbers:
        return None
    mid = len(numbers) // 2
    return numbers[mid] if len(numbers) % 2 else (numbers[mid - 1] + numbers[mid]) / 2
