"""`fsreplica replicate` to fake-gcs-server through an outage: one line when it starts, one when
it ends (the S3 test of tests/integration/s3/test_outage.py, on GCS)."""

from __future__ import annotations

import re
from pathlib import Path

from test_cli_replicate_helpers import Daemon, fsreplica, wait_for

from servers import fakegcs


def names(endpoint: str, bucket: str, prefix: str) -> set[str]:
    with fakegcs.client(endpoint) as gcs:
        return {blob.name.removeprefix(prefix) for blob in gcs.list_blobs(bucket, prefix=prefix)}


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    tmp_path: Path, restartable: fakegcs.FakeGCS
) -> None:
    endpoint = restartable.endpoint
    bucket = fakegcs.new_bucket(endpoint)
    src = tmp_path / "src"
    src.mkdir()
    (src / "before.txt").write_text("replicated before the outage")
    url = f"gs://{bucket}/outage"
    env = fakegcs.env(tmp_path, endpoint)
    d = Daemon(tmp_path, src, url, env=env)
    try:
        d.wait_ready()
        wait_for(lambda: names(endpoint, bucket, "outage/") == {"before.txt"}, "the first copy")
        restartable.stop()
        try:
            for i in range(10):
                (src / f"during{i}.txt").write_text(f"written while the endpoint was down {i}")
            wait_for(lambda: "unavailable" in d.output(), "the outage to be logged")
        finally:
            restartable.start()
        wanted = {path.name for path in src.iterdir()}
        wait_for(lambda: names(endpoint, bucket, "outage/") == wanted, "the changes after it")
        wait_for(lambda: "available again" in d.output(), "the end of the outage to be logged")
        output = d.output()
        start = [line for line in output.splitlines() if "unavailable" in line]
        end = [line for line in output.splitlines() if "available again" in line]
        assert len(start) == 1, output
        assert len(end) == 1, output
        assert f"destination {url} unavailable: connection refused" in start[0], output
        assert re.search(r"; \d+ changes waiting", start[0]), output
        assert re.search(r"available again after [\d.]+ s", end[0]), output
        verify = fsreplica("verify", src, url, env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert d.terminate() == 0
    finally:
        d.close()
