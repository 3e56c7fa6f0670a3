"""`sync --dry-run` and `--checksum` to a bucket: nothing written by a dry run; hashes compared."""

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


def test_sync_checksum_recopies_an_object_whose_hash_differs(
    tmp_path: Path, moto_bucket: tuple[str, str]
) -> None:
    # Another tool rewrote an object: same size, same mtime metadata, no (or another) sha256.
    endpoint, bucket = moto_bucket
    src = tmp_path / "src"
    tree(src, {"a.txt": b"alpha", "b.txt": b"bravo"})
    env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
    state = ["--state", str(tmp_path / "state.db")]
    assert run(["sync", str(src), f"s3://{bucket}/p", *state], env).returncode == 0
    client = motoserver.client(endpoint)
    try:
        meta = client.head_object(Bucket=bucket, Key="p/b.txt")["Metadata"]
        meta = {k: v for k, v in meta.items() if k != "sha256"}
        client.put_object(Bucket=bucket, Key="p/b.txt", Body=b"BRAVO", Metadata=meta)
        fresh = ["--state", str(tmp_path / "fresh.db")]
        plain = run(["sync", str(src), f"s3://{bucket}/p", *fresh], env)
        assert "0 copied" in plain.stderr, plain.stderr
        repaired = run(["sync", "--checksum", str(src), f"s3://{bucket}/p", *fresh], env)
        assert repaired.returncode == 0, repaired.stderr
        assert "1 copied" in repaired.stderr
        body = client.get_object(Bucket=bucket, Key="p/b.txt")["Body"].read()
        assert body == b"bravo"
    finally:
        client.close()
    assert run(["verify", str(src), f"s3://{bucket}/p"], env).returncode == 0
