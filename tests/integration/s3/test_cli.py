"""The CLI against real S3 servers: preflight exit codes, sync + verify, replicate through an
RGW restart and a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers import ceph, motoserver

FSREPLICA = [sys.executable, "-m", "fsreplica"]


def s3_env(tmp_path: Path, endpoint: str, access: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=access,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 25) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*FSREPLICA, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class TestPreflightExitCodes:
    """A destination that cannot work is one line on stderr and exit code 2."""

    def test_wrong_credentials(self, tmp_path: Path, ceph_bucket: tuple) -> None:
        cluster, bucket = ceph_bucket
        (tmp_path / "src").mkdir()
        env = s3_env(tmp_path, cluster.endpoint, "WRONG", "secret-that-must-not-leak")
        done = run(
            [
                "sync",
                str(tmp_path / "src"),
                f"s3://{bucket}/x",
                "--state",
                str(tmp_path / "state.db"),
            ],
            env,
        )
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"fsreplica: s3://{bucket}: access denied (check AWS_ACCESS_KEY_ID)"
        ]
        assert "secret-that-must-not-leak" not in done.stderr + done.stdout

    def test_missing_bucket_and_unreachable(self, tmp_path: Path) -> None:
        cluster = ceph.shared()
        (tmp_path / "src").mkdir()
        env = s3_env(tmp_path, cluster.endpoint, cluster.access_key, cluster.secret_key)
        done = run(["verify", str(tmp_path / "src"), "s3://no-such-bucket"], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: s3://no-such-bucket: bucket does not exist",
        )
        port = ceph.free_port()
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        done = run(
            ["sync", str(tmp_path / "src"), "s3://b/x", "--state", str(tmp_path / "state.db")], env
        )
        assert (done.returncode, done.stderr.strip()) == (
            2,
            f"fsreplica: s3://b: cannot reach http://127.0.0.1:{port}",
        )


class TestSyncVerify:
    """sync to a bucket, then verify, then a no-change re-sync."""

    def test_sync_then_verify(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        tree(src, {f"d{i % 3}/f{i}.txt": f"file {i}".encode() for i in range(30)})
        tree(src, {"big.bin": os.urandom(20 * 1024 * 1024)})
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        state = ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), f"s3://{bucket}/backup", *state], env)
        assert done.returncode == 0, done.stderr
        done = run(["verify", str(src), f"s3://{bucket}/backup"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        (src / "d0" / "f0.txt").write_bytes(b"changed")
        (src / "d1" / "f1.txt").unlink()
        done = run(["sync", str(src), f"s3://{bucket}/backup", *state], env)
        assert done.returncode == 0, done.stderr
        done = run(["verify", str(src), f"s3://{bucket}/backup"], env)
        assert done.returncode == 0, done.stdout + done.stderr


class TestEndpointFlags:
    """--endpoint-url, --region and --path-style instead of the environment."""

    def test_endpoint_url_flag(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        tree(src, {f"f{i}.txt": f"file {i}".encode() for i in range(5)})
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{ceph.free_port()}"  # the flag wins
        flags = ["--endpoint-url", endpoint, "--region", "eu-west-1", "--path-style"]
        state = ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), f"s3://{bucket}/flags", *state, *flags], env)
        assert done.returncode == 0, done.stderr
        assert motoserver.SECRET_KEY not in done.stdout + done.stderr
        done = run(["verify", str(src), f"s3://{bucket}/flags", *flags], env)
        assert done.returncode == 0, done.stdout + done.stderr

    def test_flags_refused_for_local_destination(self, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        done = run(
            ["sync", str(tmp_path / "src"), str(tmp_path / "dest"), "--endpoint-url", "http://x"],
            {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        )
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: --endpoint-url: only for s3://, az:// and gs:// destinations",
        )


def wait_verified(src: Path, url: str, env: dict[str, str], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        done = run(["verify", str(src), url, "-q"], env)
        if done.returncode == 0:
            return ""
        if time.monotonic() > deadline:
            return done.stdout + done.stderr
        time.sleep(0.3)


class TestReplicate:
    """replicate to RGW through a burst, renames, deletes, an RGW restart and a SIGKILL."""

    def test_burst_renames_deletes_and_rgw_restart(
        self, tmp_path: Path, ceph_bucket: tuple
    ) -> None:
        cluster, bucket = ceph_bucket
        src = tmp_path / "src"
        src.mkdir()
        url = f"s3://{bucket}/live"
        env = s3_env(tmp_path, cluster.endpoint, cluster.access_key, cluster.secret_key)
        with Replicating(src, url, env, tmp_path):
            tree(src, {f"burst/{i}.txt": os.urandom(2048) for i in range(100)})
            os.rename(src / "burst" / "0.txt", src / "renamed.txt")
            (src / "burst" / "1.txt").unlink()
            assert wait_verified(src, url, env, 10) == ""
            cluster.stop_rgw()  # outage: changes wait in the journal, retries back off
            try:
                tree(src, {f"during/{i}.txt": b"written while rgw was down" for i in range(20)})
                (src / "renamed.txt").unlink()
                time.sleep(1.0)
            finally:
                cluster.start_rgw()
            assert wait_verified(src, url, env, 12) == ""

    def test_long_outage_ridden_out(self, tmp_path: Path, ceph_bucket: tuple) -> None:
        """RGW down for 12 s while files change; the bucket converges once it is back.

        12 s, not the issue's 30 s, to fit the 30 s per-test limit with RGW's stop and start
        (~1-2 s each) and the final verify; it is what matters still: longer than the engine's
        whole retry budget alone (8 attempts, ~4-9 s with connection refused at once), so the
        changes survive only because each attempt's client-level retries ride out up to 20 s
        (`DEFAULT_RETRY_TIMEOUT`, polling 2 s apart). A real 30 s outage is in the report of
        the change that added this test (converged 3.3 s after RGW was back, verify included).
        """
        cluster, bucket = ceph_bucket
        src = tmp_path / "src"
        src.mkdir()
        url = f"s3://{bucket}/outage"
        env = s3_env(tmp_path, cluster.endpoint, cluster.access_key, cluster.secret_key)
        with Replicating(src, url, env, tmp_path):
            tree(src, {"before.txt": b"replicated before the outage"})
            assert wait_verified(src, url, env, 8) == ""
            cluster.stop_rgw()
            try:
                tree(src, {f"during/{i}.txt": os.urandom(1024) for i in range(10)})
                (src / "before.txt").unlink()
                # Not a synchronisation: the outage itself, kept long on purpose.
                time.sleep(12)
            finally:
                cluster.start_rgw()
            back = time.monotonic()
            assert wait_verified(src, url, env, 8) == ""
            print(f"converged {time.monotonic() - back:.1f} s after rgw was back")

    def test_sigkill_and_restart(self, tmp_path: Path, ceph_bucket: tuple) -> None:
        cluster, bucket = ceph_bucket
        src = tmp_path / "src"
        src.mkdir()
        url = f"s3://{bucket}/live"
        env = s3_env(tmp_path, cluster.endpoint, cluster.access_key, cluster.secret_key)
        with Replicating(src, url, env, tmp_path) as first:
            tree(src, {f"a/{i}.txt": os.urandom(4096) for i in range(100)})
            time.sleep(0.3)
            first.kill()  # mid-stream
        tree(src, {f"b/{i}.txt": b"after the kill" for i in range(10)})
        (src / "a" / "5.txt").unlink()
        with Replicating(src, url, env, tmp_path):
            assert wait_verified(src, url, env, 15) == ""


class Replicating:
    """`fsreplica replicate` in a child process, stopped (SIGTERM, then SIGKILL) at exit."""

    def __init__(
        self, src: Path, url: str, env: dict[str, str], tmp_path: Path, *extra: str
    ) -> None:
        state = str(tmp_path / "state.db")
        args = [*FSREPLICA, "replicate", str(src), url, "--state", state, *extra]
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)

    def __enter__(self) -> Replicating:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


pytestmark = pytest.mark.slow


class TestCachePrivacy:
    """The metadata cache lists every key, size and hash: 0600 in 0700, under any umask."""

    def test_cache_is_private_under_umask_000(
        self, tmp_path: Path, moto_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        tree(src, {"a.txt": b"a", "d/b.txt": b"b"})
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        state = ["--state", str(tmp_path / "state.db")]

        def umask_000() -> None:
            os.umask(0)

        done = subprocess.run(
            [*FSREPLICA, "sync", str(src), f"s3://{bucket}/private", *state],
            env=env,
            capture_output=True,
            text=True,
            timeout=25,
            preexec_fn=umask_000,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        cache = tmp_path / "cache"
        made = [cache, *(p for p in cache.rglob("*") if p.is_dir())]
        assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == {
            name: "0o700" for name in ("cache", "fsreplica", "s3")
        }
        files = [p for p in cache.rglob("*") if p.is_file()]
        assert files
        assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}


class TestLinksRefused:
    """S3 has no symlinks: --links is refused with one line."""

    def test_links_to_s3_exit_2(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        tree(src, {"a.txt": b"a"})
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        state = ["--state", str(tmp_path / "state.db")]
        done = run(["sync", "--links", str(src), f"s3://{bucket}/l", *state], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            f"fsreplica: --links: only for local destinations (s3://{bucket}/l cannot store "
            "symlinks)",
        )
