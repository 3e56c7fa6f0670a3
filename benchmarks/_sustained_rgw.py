"""The Ceph RGW destination of the sustained-load benchmark, and how it sees objects arrive.

A single-node Ceph RGW (`tests/servers/ceph.py`) is started for the run, with its ops log sent
to a unix socket: radosgw writes one JSON line per request it has answered, and a thread here
notes when the PUT of each object under the run's prefix was logged. That is the moment the
object is visible to any reader, seen without a single request of our own, so measuring adds
no load to the gateway (listing the bucket every few hundred milliseconds would: 15,000 objects
are 15 requests a listing).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "live"
"""The key prefix replicate writes under, in each run's bucket."""

OPS_LOG = """rgw enable ops log = true
rgw ops log rados = false
rgw ops log socket path = {sock}
"""


def unavailable() -> str | None:
    """Why Ceph RGW cannot run here (one line), or None when it is installed."""
    try:
        import boto3  # noqa: F401, PLC0415
    except ImportError:
        return "boto3 is not installed (pip install 'fsreplica[test]')"
    missing = [b for b in ("radosgw", "ceph-mon", "ceph-osd") if not _which(b)]
    if missing:
        return f"{missing[0]} not found: scripts/install-test-deps.sh installs Ceph"
    return None


def _which(name: str) -> bool:
    return any(
        os.access(os.path.join(d, name), os.X_OK) for d in os.environ.get("PATH", "").split(":")
    )


class RGW:
    """A Ceph RGW for the run, its ops log on a unix socket.

    Args:
        directory: Where the cluster lives (created; removed by `stop`).
    """

    def __init__(self, directory: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        import boto3  # noqa: PLC0415  (only this destination needs it)
        from botocore.config import Config  # noqa: PLC0415

        from servers import ceph  # noqa: PLC0415

        self.cluster = ceph.CephRGW.start(directory)
        try:
            # The ops log is read from ceph.conf when radosgw starts: add it, start it again.
            self.sock = directory / "run" / "ops.sock"
            conf = directory / "ceph.conf"
            conf.write_text(conf.read_text() + OPS_LOG.format(sock=self.sock))
            self.cluster.stop_rgw()
            self.cluster.start_rgw()
            self.s3 = boto3.client(
                "s3",
                endpoint_url=self.cluster.endpoint,
                aws_access_key_id=self.cluster.access_key,
                aws_secret_access_key=self.cluster.secret_key,
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}),
            )
        except BaseException:
            self.cluster.stop()
            raise

    def stop(self) -> None:
        """Stop the daemons and remove their directory."""
        self.cluster.stop()

    def server_pids(self) -> list[int]:
        """radosgw, the OSD and the monitor."""
        run = self.cluster.directory / "run"
        return [int(p.read_text()) for p in sorted(run.glob("*.pid"))]

    def destination(self) -> RGWDest:
        """A fresh bucket as the destination of one run."""
        bucket = f"sustained-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=bucket)
        return RGWDest(self, bucket)


class RGWDest:
    """One run's destination: `s3://BUCKET/live` on the cluster.

    Attributes:
        target: The DEST argument of replicate.
        args: replicate's extra options (the endpoint).
        env: Credentials for replicate, in its environment.
        lag_target_s: Issue 14's lag p99 target for this destination.
    """

    name = "rgw"
    lag_target_s = 2.0

    def __init__(self, rgw: RGW, bucket: str) -> None:
        self.rgw, self.bucket = rgw, bucket
        self.target = f"s3://{bucket}/{PREFIX}"
        self.args = ["--endpoint-url", rgw.cluster.endpoint]
        self.env = {
            "AWS_ACCESS_KEY_ID": rgw.cluster.access_key,
            "AWS_SECRET_ACCESS_KEY": rgw.cluster.secret_key,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        self.requests: Counter[str] = Counter()
        self._cpu_start = 0.0

    @contextmanager
    def watch(self, seen: Callable[[bytes, float], None]) -> Iterator[None]:
        """Call `seen(key under the prefix, monotonic time)` for each PUT logged, meanwhile."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(self.rgw.sock))
        conn.settimeout(0.2)
        stop = threading.Event()
        head = f"PUT /{self.bucket}/{PREFIX}/"

        def entry(line: bytes, when: float) -> None:
            text = line.strip().lstrip(b"[").rstrip(b",").strip()
            if not text or text == b"]":
                return
            try:
                op = json.loads(text)
            except ValueError:
                return
            if op.get("bucket") != self.bucket:
                return
            self.requests[f"{op.get('operation')} {op.get('http_status')}"] += 1
            uri = str(op.get("uri", ""))
            if op.get("http_status") == "200" and uri.startswith(head):
                key = unquote(uri[len(head) :].split(" ", 1)[0].split("?", 1)[0])
                seen(os.fsencode(key), when)

        def read() -> None:
            pending = b""
            while not stop.is_set():
                try:
                    data = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                if not data:
                    return
                when = time.monotonic()
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    entry(line, when)

        thread = threading.Thread(target=read, name="ops-log")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            conn.close()

    def start_usage(self) -> None:
        """Note the servers' CPU time when the writer starts, and count requests from then on.

        Replicate's start-up requests (its marker, the listing of an empty prefix) are logged
        before this, as soon as the socket is connected: they are not the writer's.
        """
        self._cpu_start = self._server_cpu()
        self.requests.clear()

    def _server_cpu(self) -> float:
        total = 0.0
        for pid in self.rgw.server_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def present(self) -> set[bytes]:
        """Every key under the prefix now (one listing, after the run)."""
        keys: set[bytes] = set()
        pages = self.rgw.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{PREFIX}/"
        )
        for page in pages:
            keys.update(os.fsencode(o["Key"][len(PREFIX) + 1 :]) for o in page.get("Contents", []))
        return keys

    def describe(self, name: bytes) -> str:
        """A missing object, for lost.txt."""
        return f"s3://{self.bucket}/{PREFIX}/{os.fsdecode(name)}"

    def figures(self, files: int) -> dict[str, Any]:
        """What the gateway did: requests by operation and status, its servers' CPU per file."""
        cpu = self._server_cpu() - self._cpu_start
        return {
            "dest": self.name,
            "requests": dict(self.requests),
            "requests_per_file": sum(self.requests.values()) / max(files, 1),
            "server_cpu_s": cpu,
            "server_cpu_us_per_file": cpu / max(files, 1) * 1e6,
        }
