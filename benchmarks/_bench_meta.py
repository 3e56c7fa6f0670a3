"""Where a benchmark ran: the machine in words and the commit measured, for its JSON."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """The machine in words: CPU model and count, memory, kernel, Python."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f", {mem_kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = ""
    cpus = f"{os.cpu_count()} CPUs" + (f" ({model})" if model else "")
    system = f"{platform.system()} {platform.release()}"
    return f"{cpus}{memory}, {system}, Python {platform.python_version()}"


def commit() -> str:
    """The checkout's commit (`git describe --always --dirty`), or "" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""
