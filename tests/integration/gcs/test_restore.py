"""`fsreplica restore` from GCS (fake-gcs-server): round trips, objects other tools wrote."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from restore_trees import FSREPLICA, fsreplica, mixed_tree, snapshot, sync, write_tree

from servers import fakegcs


class TestRoundTrip:
    """Sync to the emulator, restore into an empty directory: the same tree, byte for byte."""

    def test_names_modes_mtimes(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        env = fakegcs.env(tmp_path, endpoint)
        source = tmp_path / "src"
        mixed_tree(source)  # names that are not UTF-8, controls, the quote; a 3 MiB file
        sync(source, f"gs://{bucket}/replica", state=tmp_path / "state.db", env=env)
        done = fsreplica("restore", f"gs://{bucket}/replica", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        done = fsreplica("restore", f"gs://{bucket}/replica", tmp_path / "v", "--verify", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "v") == snapshot(source)

    def test_many_files_and_a_url_below_the_root(
        self, tmp_path: Path, gcs_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = gcs_bucket
        env = fakegcs.env(tmp_path, endpoint)
        source = tmp_path / "src"
        write_tree(source, {f"d{i % 10}/f{i:04d}".encode(): b"%d" % i for i in range(400)})
        sync(source, f"gs://{bucket}/r", state=tmp_path / "state.db", env=env)
        done = fsreplica("restore", f"gs://{bucket}/r", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        below = fsreplica("restore", f"gs://{bucket}/r/d3", tmp_path / "d3", env=env)
        assert below.returncode == 0, below.stderr
        assert snapshot(tmp_path / "d3") == snapshot(source / "d3")

    def test_interrupted_by_sigkill_then_resumed(
        self, tmp_path: Path, gcs_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = gcs_bucket
        env = fakegcs.env(tmp_path, endpoint)
        source = tmp_path / "src"
        write_tree(source, {f"d{i % 7}/f{i:04d}".encode(): b"x%d" % i * 50 for i in range(300)})
        sync(source, f"gs://{bucket}/k", state=tmp_path / "state.db", env=env)
        out = tmp_path / "out"
        args = [*FSREPLICA, "restore", f"gs://{bucket}/k", str(out), "--transfers", "2"]
        with subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL) as first:
            deadline = time.monotonic() + 20
            while not (out.exists() and any(out.rglob("f*"))):  # some files are in
                assert first.poll() is None, "the restore ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)
        done = fsreplica("restore", f"gs://{bucket}/k", out, "--force", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(out) == snapshot(source)

    def test_objects_another_tool_wrote(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        with fakegcs.client(endpoint) as gcs:
            gcs.bucket(bucket).blob("p/plain.txt").upload_from_string(b"no metadata")
            rclone = gcs.bucket(bucket).blob("p/rclone")
            rclone.metadata = {"mtime": "1500000000.5"}
            rclone.upload_from_string(b"rc")
        env = fakegcs.env(tmp_path, endpoint)
        done = fsreplica("restore", f"gs://{bucket}/p", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "plain.txt").read_bytes() == b"no metadata"
        assert (tmp_path / "out" / "rclone").stat().st_mtime_ns == 1_500_000_000_500_000_000
