"""The CLI against fake-gcs-server: preflight exit codes, sync + verify, replicate through a
server restart and a SIGKILL (the S3 tests of tests/integration/s3/test_cli.py, on GCS)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from s3.test_cli import Replicating, run, tree, wait_verified

from servers import fakegcs

pytestmark = pytest.mark.slow


class TestPreflightExitCodes:
    """A destination that cannot work is one line on stderr and exit code 2."""

    def test_missing_bucket_unreachable_and_no_credentials(self, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        env = fakegcs.env(tmp_path, fakegcs.endpoint())
        done = run(["verify", str(tmp_path / "src"), "gs://no-such-bucket"], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: gs://no-such-bucket: bucket does not exist",
        )
        port = fakegcs.free_port()
        env["STORAGE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        state = ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(tmp_path / "src"), "gs://b/x", *state], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            f"fsreplica: gs://b: cannot reach http://127.0.0.1:{port}",
        )
        del env["STORAGE_EMULATOR_HOST"]
        started = time.monotonic()
        done = run(["sync", str(tmp_path / "src"), "gs://b/x", *state], env)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "fsreplica: gs://b: no credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run "
            "'gcloud auth application-default login', or set STORAGE_EMULATOR_HOST for an "
            "emulator)"
        ]
        assert time.monotonic() - started < 20  # no metadata server waited for


class TestSyncVerify:
    """sync to a bucket (a resumable upload among the files), verify, a no-change re-sync."""

    def test_sync_verify_resync(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        tree(src, {f"d{i % 3}/f{i}.txt": f"file {i}".encode() for i in range(30)})
        big = os.urandom(20 * 1024 * 1024)
        tree(src, {"big.bin": big})
        env = fakegcs.env(tmp_path, endpoint)
        url, state = f"gs://{bucket}/backup", ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "31 copied" in done.stderr
        assert fakegcs.objects(bucket, "backup/")["big.bin"] == big
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        (src / "d0" / "f0.txt").write_bytes(b"changed")
        (src / "d1" / "f1.txt").unlink()
        os.utime(src / "d2" / "f2.txt", ns=(1_600_000_000_000_000_000,) * 2)
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "1 copied" in done.stderr
        assert "1 deleted" in done.stderr
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        # Without the state, the listing (with each object's metadata) says nothing changed.
        done = run(["sync", str(src), url, "--state", str(tmp_path / "other.db")], env)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr

    def test_endpoint_url_flag(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        tree(src, {f"f{i}.txt": f"file {i}".encode() for i in range(5)})
        env = fakegcs.env(tmp_path, f"127.0.0.1:{fakegcs.free_port()}")  # the flag wins
        flags = ["--endpoint-url", endpoint]
        state = ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), f"gs://{bucket}/flags", *state, *flags], env)
        assert done.returncode == 0, done.stderr
        done = run(["verify", str(src), f"gs://{bucket}/flags", *flags], env)
        assert done.returncode == 0, done.stdout + done.stderr
        done = run(["sync", str(src), f"gs://{bucket}/f", *state, *flags, "--region", "x"], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: --region: only for s3:// destinations",
        )

    def test_dry_run_writes_nothing(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        tree(src, {"a.txt": b"a"})
        env = fakegcs.env(tmp_path, endpoint)
        done = run(["sync", "-n", str(src), f"gs://{bucket}/dry"], env)
        assert done.returncode == 0, done.stderr
        assert "a.txt" in done.stdout
        assert fakegcs.objects(bucket) == {}  # not even the preflight's probe


class TestReplicate:
    """replicate to fake-gcs-server through a burst, renames, deletes, a restart and a SIGKILL."""

    def test_burst_renames_deletes_and_restart(
        self, tmp_path: Path, restartable: fakegcs.FakeGCS
    ) -> None:
        bucket = fakegcs.new_bucket(restartable.endpoint)
        src = tmp_path / "src"
        src.mkdir()
        url = f"gs://{bucket}/live"
        env = fakegcs.env(tmp_path, restartable.endpoint)
        with Replicating(src, url, env, tmp_path):
            tree(src, {f"burst/{i}.txt": os.urandom(2048) for i in range(100)})
            os.rename(src / "burst" / "0.txt", src / "renamed.txt")
            (src / "burst" / "1.txt").unlink()
            assert wait_verified(src, url, env, 12) == ""
            restartable.stop()  # outage: changes wait in the journal, retries back off
            try:
                tree(
                    src,
                    {f"during/{i}.txt": b"written while the server was down" for i in range(20)},
                )
                (src / "renamed.txt").unlink()
                time.sleep(1.0)  # not a synchronisation: the outage itself
            finally:
                restartable.start()
            assert wait_verified(src, url, env, 12) == ""

    def test_sigkill_and_restart(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        src.mkdir()
        url = f"gs://{bucket}/live"
        env = fakegcs.env(tmp_path, endpoint)
        with Replicating(src, url, env, tmp_path) as first:
            tree(src, {f"a/{i}.txt": os.urandom(4096) for i in range(100)})
            time.sleep(0.3)
            first.kill()  # mid-stream
        tree(src, {f"b/{i}.txt": b"after the kill" for i in range(10)})
        (src / "a" / "5.txt").unlink()
        with Replicating(src, url, env, tmp_path):
            assert wait_verified(src, url, env, 15) == ""


class TestLinksRefused:
    """GCS has no symlinks: --links is refused with one line."""

    def test_links_to_gcs_exit_2(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        tree(src, {"a.txt": b"a"})
        env = fakegcs.env(tmp_path, endpoint)
        done = run(["sync", "--links", str(src), f"gs://{bucket}/l"], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            f"fsreplica: --links: only for local destinations (gs://{bucket}/l cannot store "
            "symlinks)",
        )
