"""`sync --dry-run` to a bucket: the plan, and nothing written (no cache, no state, no object)."""

from __future__ import annotations

from pathlib import Path

from integration.s3.test_cli import run, s3_env, tree
from servers import motoserver


def test_dry_run_writes_no_cache_state_or_object(
    tmp_path: Path, moto_bucket: tuple[str, str]
) -> None:
    endpoint, bucket = moto_bucket
    src = tmp_path / "src"
    tree(src, {"a.txt": b"a", "d/b.txt": b"b", ".hidden": b"h"})
    env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    done = run(["sync", "--dry-run", str(src), f"s3://{bucket}/p"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["put: a.txt", "put: d/b.txt"]
    assert "1 excluded by the default patterns" in done.stdout
    assert not (tmp_path / "cache").exists()
    assert not (tmp_path / "xdg-state").exists()
    listing = run(["verify", str(src), f"s3://{bucket}/p"], env)
    assert listing.stdout.splitlines() == ["missing: a.txt", "missing: d/b.txt"]
