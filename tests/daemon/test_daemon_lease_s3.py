"""Two daemon processes (separate state, as on two hosts) on one bucket prefix on moto.

One writes; the other names the holder in one line and stands by; SIGKILL the holder and the
other takes over once the lease lapses. The lease object at the prefix says who holds it, and
is never listed as a replicated object.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from daemon_helpers import DaemonProcess, bucket_tree, daemon_environ, policy_table, wait_for

from fsreplica.destinations import LEASE_KEY
from servers import motoserver


def test_two_daemons_one_bucket_prefix(tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
    endpoint, bucket = moto_bucket
    destination = f"s3://{bucket}/p"

    def lease() -> dict[str, object]:
        s3 = motoserver.client(endpoint)
        try:
            body = s3.get_object(Bucket=bucket, Key=f"p/{LEASE_KEY}")["Body"].read()
        finally:
            s3.close()
        return dict(json.loads(body))

    src = tmp_path / "src"
    src.mkdir()
    (src / "before.txt").write_text("before")
    configs = []
    for host in ("host-a", "host-b"):
        (tmp_path / host).mkdir()
        config = tmp_path / host / "config.toml"
        config.write_text(
            '[daemon]\nlease_ttl = "2s"\n\n'
            + policy_table("shared", src, destination, debounce=0.05, endpoint_url=endpoint)
        )
        configs.append(config)
    env_a, env_b = daemon_environ(tmp_path / "host-a"), daemon_environ(tmp_path / "host-b")
    with DaemonProcess(tmp_path, configs[0], env=env_a) as a:
        a.wait_started()
        wait_for(lambda: bucket_tree(endpoint, bucket, "p") == {"before.txt": b"before"}, "A")
        holder = lease()
        assert holder["owner"] == f"{socket.gethostname()}:{configs[0]}"
        assert holder["pid"] == a.proc.pid
        with DaemonProcess(tmp_path, configs[1], env=env_b) as b:
            b.wait_started()
            line = (
                f"policy shared: {destination}: lease held by {socket.gethostname()}:"
                f"{configs[0]} (pid {a.proc.pid}); standing by until it is released or expires"
            )
            wait_for(lambda: line in b.output(), "B to name the holder")
            assert b.output().count("lease held by") == 1  # one line, not one per look

            (src / "while-a.txt").write_text("a")
            wait_for(lambda: "while-a.txt" in bucket_tree(endpoint, bucket, "p"), "A's copy")

            a.kill()  # no release: B takes over once the lease lapses
            wait_for(lambda: "lease taken over from" in b.output(), "B to take over")
            (src / "after.txt").write_text("b")
            wait_for(
                lambda: bucket_tree(endpoint, bucket, "p").get("after.txt") == b"b", "B's copy"
            )
            assert lease()["pid"] == b.proc.pid
            assert b.terminate() == 0
    assert lease()["expires"] == 0  # B released it when it stopped
    assert "Traceback" not in a.output() + b.output()
