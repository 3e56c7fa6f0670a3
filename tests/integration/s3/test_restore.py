"""`fsreplica restore` from S3 (moto): round trips, keys other tools wrote, --verify, --at."""

from __future__ import annotations

import os
import time
from pathlib import Path

from restore_trees import fsreplica, mixed_tree, snapshot, sync, write_tree

from servers import ceph, motoserver

from .test_cli import s3_env


def moto_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    return s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)


def put_raw(endpoint: str, bucket: str, objects: dict[str, bytes], **extra: object) -> None:
    """Write objects straight into the bucket, as another tool would."""
    s3 = motoserver.client(endpoint)
    try:
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    finally:
        s3.close()


class TestRoundTrip:
    """Sync to moto, restore into an empty directory: the same tree, byte for byte."""

    def test_names_modes_mtimes(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        env = moto_env(tmp_path, endpoint)
        source = tmp_path / "src"
        mixed_tree(source)
        sync(source, f"s3://{bucket}/replica", state=tmp_path / "state.db", env=env)
        done = fsreplica("restore", f"s3://{bucket}/replica", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        # No metadata cache to help: every object's metadata is read from the store.
        env["XDG_CACHE_HOME"] = str(tmp_path / "cold-cache")
        cold = fsreplica("restore", f"s3://{bucket}/replica", tmp_path / "cold", env=env)
        assert cold.returncode == 0, cold.stderr
        assert snapshot(tmp_path / "cold") == snapshot(source)

    def test_on_ceph_rgw(self, tmp_path: Path, ceph_bucket: tuple[ceph.CephRGW, str]) -> None:
        cluster, bucket = ceph_bucket
        env = s3_env(tmp_path, cluster.endpoint, cluster.access_key, cluster.secret_key)
        source = tmp_path / "src"
        mixed_tree(source)
        sync(source, f"s3://{bucket}/replica", state=tmp_path / "state.db", env=env)
        env["XDG_CACHE_HOME"] = str(tmp_path / "cold-cache")
        done = fsreplica("restore", f"s3://{bucket}/replica", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)

    def test_many_files_and_a_url_below_the_root(
        self, tmp_path: Path, moto_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = moto_bucket
        env = moto_env(tmp_path, endpoint)
        source = tmp_path / "src"
        write_tree(source, {f"d{i % 10}/f{i:04d}".encode(): b"%d" % i for i in range(1000)})
        sync(source, f"s3://{bucket}/r", state=tmp_path / "state.db", env=env)
        done = fsreplica("restore", f"s3://{bucket}/r", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        below = fsreplica("restore", f"s3://{bucket}/r/d3", tmp_path / "d3", env=env)
        assert below.returncode == 0, below.stderr
        assert snapshot(tmp_path / "d3") == snapshot(source / "d3")

    def test_objects_another_tool_wrote(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        put_raw(endpoint, bucket, {"p/plain.txt": b"no metadata"})
        put_raw(endpoint, bucket, {"p/rclone": b"rc"}, Metadata={"mtime": "1500000000.5"})
        env = moto_env(tmp_path, endpoint)
        before = time.time()
        done = fsreplica("restore", f"s3://{bucket}/p", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        plain = (tmp_path / "out" / "plain.txt").stat()
        assert (tmp_path / "out" / "plain.txt").read_bytes() == b"no metadata"
        assert plain.st_mtime > before - 120  # the upload date stands in
        assert plain.st_mode & 0o777 == 0o666 & ~_umask()
        assert (tmp_path / "out" / "rclone").stat().st_mtime_ns == 1_500_000_000_500_000_000


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class TestHostileKeys:
    """Keys that would lead outside TARGET_DIR: one line each, the others restored."""

    def test_nothing_written_outside(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        put_raw(
            endpoint,
            bucket,
            {
                "p/ok.txt": b"fine",
                "p/../evil": b"x",
                "p/../../evil2": b"x",
                "p//abs": b"x",
                "p/a/./b": b"x",
                "p/x": b"file",
                "p/x/y": b"below",
                "p/.fsreplica-restore": b"x",
            },
        )
        work = tmp_path / "work"
        out = work / "out"
        work.mkdir()
        env = moto_env(tmp_path, endpoint)
        done = fsreplica("restore", f"s3://{bucket}/p", out, env=env)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "fsreplica: restore ../../evil2: key has a '..' component: would leave the target "
            "directory",
            "fsreplica: restore ../evil: key has a '..' component: would leave the target "
            "directory",
            "fsreplica: restore .fsreplica-restore: key has a name the restore reserves for itself",
            "fsreplica: restore /abs: absolute key: would leave the target directory",
            "fsreplica: restore a/./b: key has an empty or '.' component",
            "fsreplica: restore x: both a file and a directory in the store (x/...)",
            "fsreplica: 2 restored (9 B), 0 unchanged, 6 failed",
        ]
        assert sorted(os.listdir(work)) == ["out"]
        assert snapshot(out) == {
            b"ok.txt": ("file", b"fine", *_stamp(out / "ok.txt")),
            b"x/y": ("file", b"below", *_stamp(out / "x" / "y")),
        }
        assert not (tmp_path / "evil").exists()
        assert not (tmp_path / "evil2").exists()


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_mode & 0o7777


class TestVerify:
    """An object whose content no longer matches its recorded SHA-256 is not restored."""

    def test_catches_a_corrupted_object(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        env = moto_env(tmp_path, endpoint)
        source = tmp_path / "src"
        write_tree(source, {b"good": b"fine", b"bad": b"original"})
        sync(source, f"s3://{bucket}/p", state=tmp_path / "state.db", env=env)
        s3 = motoserver.client(endpoint)
        try:
            head = s3.head_object(Bucket=bucket, Key="p/bad")
            s3.put_object(Bucket=bucket, Key="p/bad", Body=b"ORIGINAL", Metadata=head["Metadata"])
        finally:
            s3.close()
        out = tmp_path / "out"
        done = fsreplica("restore", f"s3://{bucket}/p", out, "--verify", env=env)
        assert done.returncode == 1
        assert done.stderr.splitlines()[0] == (
            "fsreplica: restore bad: content does not match the sha256 the store recorded"
        )
        assert not (out / "bad").exists()
        assert (out / "good").read_bytes() == b"fine"


class TestAt:
    """--at on a versioned bucket restores each key as it was then."""

    def test_versioned_bucket(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        s3 = motoserver.client(endpoint)
        try:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        finally:
            s3.close()
        env = moto_env(tmp_path, endpoint)
        source = tmp_path / "src"
        write_tree(source, {b"kept": b"v1", b"changed": b"old", b"deleted": b"gone later"})
        sync(source, f"s3://{bucket}/p", state=tmp_path / "state.db", env=env)
        first = snapshot(source)
        between = _next_second()
        _next_second()
        (source / "changed").write_bytes(b"new content")
        (source / "deleted").unlink()
        write_tree(source / "later", {b"added": b"after"})
        sync(source, f"s3://{bucket}/p", state=tmp_path / "state.db", env=env)

        done = fsreplica(
            "restore", f"s3://{bucket}/p", tmp_path / "then", "--at", str(between), env=env
        )
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "then") == first

        now = fsreplica("restore", f"s3://{bucket}/p", tmp_path / "now", env=env)
        assert now.returncode == 0, now.stderr
        assert snapshot(tmp_path / "now") == snapshot(source)

        before = fsreplica(
            "restore",
            f"s3://{bucket}/p",
            tmp_path / "before",
            "--at",
            "2000-01-01T00:00:00Z",
            env=env,
        )
        assert before.returncode == 0, before.stderr
        assert os.listdir(tmp_path / "before") == []

    def test_refused_without_versioning(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        env = moto_env(tmp_path, endpoint)
        done = fsreplica("restore", f"s3://{bucket}/p", tmp_path / "out", "--at", "0", env=env)
        assert (done.returncode, done.stderr) == (
            2,
            f"fsreplica: restore s3://{bucket}/p: --at: versioning is not enabled, no earlier "
            "versions kept\n",
        )
        assert not (tmp_path / "out").exists()


def _next_second() -> float:
    """Wait for the wall clock to enter a new second (S3 dates have one-second precision)."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.01)
    return time.time()
