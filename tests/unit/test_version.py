"""The version is written once, in `fsreplica/__init__.py`; the package metadata reads it there."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import fsreplica

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_written_once() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "fsreplica.__version__"
    }


def test_cli_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsreplica", "--version"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"fsreplica {fsreplica.__version__}\n",
        "",
    )
