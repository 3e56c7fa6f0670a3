"""An unreadable source file, for real: root reads everything, so these runs drop the capability.

`setpriv` (util-linux) starts `fsreplica` as root without CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH, so a mode-000 file is as unreadable to it as to any user.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli_replicate_helpers import DEADLINE, WITHOUT_READ_OVERRIDE, fsreplica, tree

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")


def fsreplica_without_read_override(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `fsreplica ARGS` unable to read what the file modes forbid."""
    return subprocess.run(
        [
            *WITHOUT_READ_OVERRIDE,
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
        check=False,
    )


def test_unreadable_file_reported_listed_and_retried(tmp_path: Path) -> None:
    src, dst, state = tmp_path / "src", tmp_path / "dst", tmp_path / "state.db"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    secret = src / "secret.txt"
    secret.write_text("hidden")
    secret.chmod(0)

    first = fsreplica_without_read_override("sync", src, dst, "--state", state)
    assert first.returncode == 1, first.stderr
    lines = [line for line in first.stderr.splitlines() if "secret.txt" in line]
    # one warning when it happens, one line in the closing list of failures; path and cause in each
    assert len(lines) == 2, first.stderr
    assert all(str(src) in line and "permission denied" in line for line in lines), lines
    assert tree(dst) == {"ok.txt": b"fine"}  # the rest went through

    status = fsreplica_without_read_override("status", src, dst, "--state", state)
    assert "secret.txt" in status.stdout + status.stderr
    assert "secret.txt: read: permission denied" in status.stdout

    secret.chmod(0o644)
    second = fsreplica_without_read_override("sync", src, dst, "--state", state)
    assert second.returncode == 0, second.stderr
    assert tree(dst) == {"ok.txt": b"fine", "secret.txt": b"hidden"}
    after = fsreplica("status", src, dst, "--state", state)
    assert "secret.txt" not in after.stdout
