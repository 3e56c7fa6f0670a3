"""Installs the peers the benchmark compares against, and says which versions ran."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys

PIP_PEERS = ("watchdog", "watchfiles")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_peers(tools: list[str]) -> dict[str, str]:
    """Install what `tools` need and is missing; return {tool: version or 'unavailable: why'}."""
    missing = [name for name in PIP_PEERS if name in tools and not importlib.util.find_spec(name)]
    if missing:
        _log(f"installing {' '.join(missing)} with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=False)
        importlib.invalidate_caches()
    if "inotifywait" in tools and shutil.which("inotifywait") is None:
        _install_inotify_tools()
    return {tool: _version(tool) for tool in tools}


def _install_inotify_tools() -> None:
    _log("installing inotify-tools with apt-get")
    install = ["apt-get", "install", "-y", "-q", "inotify-tools"]
    if _run(install) != 0:
        _run(["apt-get", "update", "-q"])  # a fresh machine has no package lists yet
        _run(install)


def _run(command: list[str]) -> int:
    return subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode


def _version(tool: str) -> str:
    if tool == "naive":
        return "_inotify_floor.py"
    if tool == "inotifywait":
        exe = shutil.which("inotifywait")
        if exe is None:
            return "unavailable: apt-get install inotify-tools failed"
        out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
        first = (out.stdout or out.stderr).splitlines()[:1]
        return first[0].split()[-1] if first else "unknown"
    try:
        return importlib.metadata.version(tool)
    except importlib.metadata.PackageNotFoundError:
        return f"unavailable: pip install {tool} failed"
