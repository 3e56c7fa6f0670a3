"""A real daemon's troubles seen through its API, and the API's changes surviving a SIGKILL."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import (
    DaemonProcess,
    bucket_tree,
    daemon_environ,
    policy_table,
    tree,
    wait_for,
)

from fsreplica.daemon.client import DaemonClient
from servers import motoserver


@pytest.fixture
def sock() -> Iterator[str]:
    """A short socket path (AF_UNIX paths are limited to 107 bytes)."""
    run = tempfile.mkdtemp(prefix="fsr-")
    yield f"{run}/fsreplica.sock"
    shutil.rmtree(run, ignore_errors=True)


def state(client: DaemonClient, policy: str) -> str:
    return str(client.get(f"/policies/{policy}/status")["state"])


class TestTroubleThroughTheApi:
    """Status says which policy is in trouble; the others go on."""

    def test_destination_down_and_source_gone(
        self, tmp_path: Path, moto_bucket: tuple[str, str], sock: str
    ) -> None:
        endpoint, bucket = moto_bucket
        s3_src, local_src = tmp_path / "s3src", tmp_path / "localsrc"
        s3_src.mkdir()
        local_src.mkdir()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[daemon]\nsocket = "{sock}"\n\n'
            + policy_table("moto", s3_src, f"s3://{bucket}/p", endpoint_url=endpoint, debounce=0.05)
            + policy_table("local", local_src, tmp_path / "dst", debounce=0.05)
            + policy_table("gone", tmp_path / "not-yet", tmp_path / "dst-gone")
        )
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            client = DaemonClient(sock)
            wait_for(lambda: state(client, "moto") == "live", "moto live")
            assert state(client, "gone") == "source-gone"
            assert not client.get("/status")["ready"]
            with motoserver.outage():
                (s3_src / "during.txt").write_text("waits")
                wait_for(lambda: state(client, "moto") == "destination-down", "moto down")
                status = client.get("/policies/moto/status")
                assert status["destination_up"] is False
                assert status["detail"].startswith(f"s3://{bucket}/p")
                (local_src / "local.txt").write_text("goes on")
                wait_for(lambda: "local.txt" in tree(tmp_path / "dst"), "local to go on")
                assert state(client, "local") == "live"
            wait_for(lambda: "during.txt" in bucket_tree(endpoint, bucket, "p"), "moto after")
            (tmp_path / "not-yet").mkdir()
            (tmp_path / "not-yet" / "x.txt").write_text("x")
            wait_for(lambda: tree(tmp_path / "dst-gone") == {"x.txt": b"x"}, "gone's source back")
            wait_for(lambda: client.get("/status")["ready"], "every policy live")
            assert daemon.terminate() == 0


class TestApiChangesSurviveAKill:
    """A change the API acknowledged is in the file: a SIGKILL right after loses nothing."""

    def test_add_then_kill_then_restart(self, tmp_path: Path, sock: str) -> None:
        src = tmp_path / "src"
        src.mkdir()
        (src / "a.txt").write_text("a")
        config = tmp_path / "config.toml"
        config.write_text(f'# mine\n[daemon]\nsocket = "{sock}"\n')
        env = daemon_environ(tmp_path)
        body = {"id": "added", "source": str(src), "destination": str(tmp_path / "dst")}
        with DaemonProcess(tmp_path, config, env=env) as daemon:
            daemon.wait_started()
            DaemonClient(sock).post("/policies", body)
            daemon.kill()
        assert config.read_text().startswith("# mine\n")
        (src / "b.txt").write_text("b")
        with DaemonProcess(tmp_path, config, env=env) as daemon:
            daemon.wait_started()
            client = DaemonClient(sock)
            assert [p["id"] for p in client.get("/policies")] == ["added"]
            wait_for(lambda: tree(tmp_path / "dst") == {"a.txt": b"a", "b.txt": b"b"}, "converge")
            assert daemon.terminate() == 0
