"""`fsreplica replicate` to moto through an outage: one line when it starts, one when it ends."""

from __future__ import annotations

import os
import re
from pathlib import Path

from test_cli_replicate_helpers import Daemon, fsreplica, wait_for

from servers import motoserver


def s3_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=motoserver.ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=motoserver.SECRET_KEY,
        AWS_DEFAULT_REGION=motoserver.REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return env


def keys(endpoint: str, bucket: str, prefix: str) -> set[str]:
    s3 = motoserver.client(endpoint)
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {o["Key"].removeprefix(prefix) for page in pages for o in page.get("Contents", [])}
    finally:
        s3.close()


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    tmp_path: Path, moto_bucket: tuple[str, str]
) -> None:
    endpoint, bucket = moto_bucket
    src = tmp_path / "src"
    src.mkdir()
    (src / "before.txt").write_text("replicated before the outage")
    url = f"s3://{bucket}/outage"
    env = s3_env(tmp_path, endpoint)
    d = Daemon(tmp_path, src, url, env=env)
    try:
        d.wait_ready()
        wait_for(lambda: keys(endpoint, bucket, "outage/") == {"before.txt"}, "the first copy")
        with motoserver.outage():
            for i in range(10):
                (src / f"during{i}.txt").write_text(f"written while the endpoint was down {i}")
            wait_for(lambda: "unavailable" in d.output(), "the outage to be logged")
        wanted = {path.name for path in src.iterdir()}
        wait_for(lambda: keys(endpoint, bucket, "outage/") == wanted, "the changes after it")
        wait_for(lambda: "available again" in d.output(), "the end of the outage to be logged")
        output = d.output()
        start = [line for line in output.splitlines() if "unavailable" in line]
        end = [line for line in output.splitlines() if "available again" in line]
        assert len(start) == 1, output
        assert len(end) == 1, output
        assert f"destination {url} unavailable: " in start[0], output
        assert re.search(r"; \d+ changes waiting", start[0]), output
        lasted = re.search(r"available again after ([\d.]+) s", end[0])
        # From the start of the first request that failed (the client retried it for seconds).
        assert lasted is not None, output
        assert float(lasted.group(1)) >= 1, output
        verify = fsreplica("verify", src, url, env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert d.terminate() == 0
    finally:
        d.close()
