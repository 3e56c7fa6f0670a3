"""What `fsreplica sync` writes when a safety guard refuses deletions: the reason, once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_cli_replicate_helpers import fsreplica, tree

REASON = "source is empty (unmounted?) while the destination holds 3 files"


@pytest.fixture
def emptied(tmp_path: Path) -> tuple[Path, Path, Path]:
    """SRC, DEST and the state of a pair synced once, then SRC emptied (as if unmounted)."""
    src, dst, state = tmp_path / "src", tmp_path / "dst", tmp_path / "s.db"
    src.mkdir()
    for name in ("a", "b", "c"):
        (src / name).write_bytes(os.urandom(10))
    first = fsreplica("sync", src, dst, "--state", state)
    assert first.returncode == 0, first.stderr
    for path in src.iterdir():
        path.unlink()
    return src, dst, state


@pytest.mark.parametrize(
    "flags",
    [[], ["-q"], ["-qq"], ["-v"], ["--log-format", "json"]],
    ids=["default", "quiet", "very-quiet", "verbose", "json"],
)
def test_refused_delete_reported_once(emptied: tuple[Path, Path, Path], flags: list[str]) -> None:
    src, dst, state = emptied
    kept = tree(dst)
    result = fsreplica("sync", *flags, src, dst, "--state", state)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if REASON in line]
    # Whatever -q/-v say: one line, saying that deletions were refused and how to allow them.
    assert len(lines) == 1, result.stderr
    assert "refus" in lines[0], lines
    assert "--max-delete" in lines[0], lines
    assert REASON not in result.stdout
    assert tree(dst) == kept


def test_dry_run_shows_the_refusal_once_on_stdout(emptied: tuple[Path, Path, Path]) -> None:
    src, dst, state = emptied
    result = fsreplica("sync", "--dry-run", src, dst, "--state", state)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if REASON in line] == [
        f"refuse: {REASON}; pass --max-delete to allow"
    ]
    assert REASON not in result.stderr
