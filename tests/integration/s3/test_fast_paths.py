"""The botocore-free paths: credentials from the environment, the obstore preflight, the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fsreplica.destinations import SourceFile
from fsreplica.destinations._base import ObjectInfo
from fsreplica.destinations._store.cache import MetadataCache
from fsreplica.destinations._store.prefetch import Prefetch
from fsreplica.destinations.s3 import S3Destination
from fsreplica.destinations.s3._config import StaticCredentials, resolve
from fsreplica.destinations.s3._preflight import SWEEP_INTERVAL, sweep_due
from servers import motoserver

OpenDest = Callable[..., S3Destination]

# Opens a destination twice with a cache file and says whether the second run imported botocore.
_CHILD = """
import sys
from fsreplica.destinations.s3 import S3Destination
url, cache = sys.argv[1], sys.argv[2]
with S3Destination.from_url(url, metadata_cache=cache) as dest:
    pass
print("conditional" if dest.conditional else "plain", "botocore" in sys.modules)
"""


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class TestResolve:
    """Keys in the environment or given are used as botocore would, without botocore."""

    def test_environment_keys(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        _clean_env(monkeypatch, tmp_path)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
        conn = resolve(endpoint_url=None, region=None, path_style=None, profile=None)
        assert conn.credentials == StaticCredentials("AKID", "secret", "token")
        assert conn.botocore_session is None
        assert conn.region == "us-east-1"
        assert conn.is_static()
        assert "secret" not in repr(conn.credentials)

    def test_region_from_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        _clean_env(monkeypatch, tmp_path)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
        conn = resolve(
            endpoint_url=None,
            region=None,
            path_style=None,
            profile=None,
            access_key_id="a",
            secret_access_key="b",
        )
        assert conn.region == "eu-west-3"
        assert conn.credentials == StaticCredentials("a", "b")

    def test_config_file_region_goes_through_botocore(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        _clean_env(monkeypatch, tmp_path)
        config = tmp_path / "config"
        config.write_text("[default]\nregion = ap-south-1\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        conn = resolve(endpoint_url=None, region=None, path_style=None, profile=None)
        assert conn.region == "ap-south-1"
        assert conn.botocore_session is not None
        assert conn.credentials.get_frozen_credentials().access_key == "AKID"

    def test_botocore_session_made_on_demand(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        _clean_env(monkeypatch, tmp_path)
        conn = resolve(
            endpoint_url=None,
            region="us-east-2",
            path_style=None,
            profile=None,
            access_key_id="a",
            secret_access_key="b",
        )
        frozen = conn.session.get_credentials().get_frozen_credentials()
        assert (frozen.access_key, frozen.secret_key) == ("a", "b")


class TestPreflight:
    """The obstore preflight, and the sweep of stale uploads once an hour."""

    def test_second_run_needs_no_botocore(
        self, monkeypatch: pytest.MonkeyPatch, moto_bucket: tuple[str, str], tmp_path: Path
    ) -> None:
        endpoint, bucket = moto_bucket
        _clean_env(monkeypatch, tmp_path)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", motoserver.ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", motoserver.SECRET_KEY)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        cache = str(tmp_path / "cache.sqlite")
        args = [sys.executable, "-c", _CHILD, f"s3://{bucket}/p", cache]
        first = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
        second = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
        assert first.stdout.split() == ["conditional", "True"]  # swept: botocore was needed
        assert second.stdout.split() == ["conditional", "False"]
        listed = motoserver.client(endpoint).list_objects_v2(Bucket=bucket)
        assert listed.get("KeyCount", 0) == 0  # the probe is gone

    def test_sweep_due_once_an_hour(self, tmp_path: Path) -> None:
        cache = MetadataCache(tmp_path / "c.sqlite")
        assert sweep_due(cache, now=1000.0)
        assert not sweep_due(cache, now=1000.0 + SWEEP_INTERVAL - 1)
        assert sweep_due(cache, now=1000.0 + SWEEP_INTERVAL)
        assert sweep_due(cache, now=0.0)  # the clock went back: sweep
        cache.close()
        memory = MetadataCache(None)
        assert sweep_due(memory, now=1.0)
        assert sweep_due(memory, now=2.0)


class TestCache:
    """Read whole on first use, written back in batches, never an error."""

    def test_survives_reopen(self, tmp_path: Path) -> None:
        path = tmp_path / "c.sqlite"
        cache = MetadataCache(path)
        cache.put(ObjectInfo("a", 3, 10, 0o644, "h"), '"e1"')
        cache.put(ObjectInfo("b", 4, 11, None, None), '"e2"', "2026-01-01T00:00:00+00:00")
        cache.put(ObjectInfo("c", 5, 12, None, None), '"e3"')
        cache.forget("c")
        cache.close()
        again = MetadataCache(path)
        assert again.etag("a") == '"e1"'
        assert again.etag("c") is None
        info = again.get("b", '"e2"', 4, "2026-01-01T00:00:00+00:00")
        assert info == ObjectInfo("b", 4, 11, None, None)
        assert again.get("b", '"e2"', 4, "2026-02-01T00:00:00+00:00") is None  # rewritten
        assert again.get("b", '"other"', 4, "2026-01-01T00:00:00+00:00") is None
        # First listing after our own put: the date is adopted, then required.
        assert again.get("a", '"e1"', 3, "2026-03-01T00:00:00+00:00") is not None
        again.close()
        third = MetadataCache(path)
        assert third.get("a", '"e1"', 3, "2026-04-01T00:00:00+00:00") is None
        third.close()

    def test_batches_reach_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "c.sqlite"
        cache = MetadataCache(path)
        for n in range(2500):
            cache.put(ObjectInfo(f"k{n}", n, n, None, None), f'"{n}"')
        cache.flush()
        reader = MetadataCache(path)
        assert reader.etag("k2499") == '"2499"'
        reader.close()
        cache.close()

    def test_corrupt_file_starts_again(self, tmp_path: Path) -> None:
        path = tmp_path / "c.sqlite"
        path.write_bytes(b"not a database at all" * 100)
        cache = MetadataCache(path)
        assert cache.etag("a") is None
        cache.put(ObjectInfo("a", 1, 1, None, None), '"e"')
        cache.close()
        again = MetadataCache(path)
        assert again.etag("a") == '"e"'
        again.close()


class TestPrefetch:
    """LIST pages fetched ahead in a thread that never outlives its reader."""

    def test_yields_all_then_stops(self) -> None:
        pages = Prefetch(iter(range(50)), depth=3)
        assert list(pages) == list(range(50))
        assert not pages._thread.is_alive()

    def test_error_raised_to_reader(self) -> None:
        def failing() -> Iterator[int]:
            yield 1
            raise OSError("boom")

        pages = Prefetch(failing())
        assert next(pages) == 1
        with pytest.raises(OSError, match="boom"):
            next(pages)
        with pytest.raises(StopIteration):
            next(pages)

    def test_dropped_unread_stops(self) -> None:
        pages = Prefetch(iter(range(10_000)), depth=2)
        thread = pages._thread
        del pages
        thread.join(timeout=2)
        assert not thread.is_alive()

    def test_listing_asked_but_never_read(self, open_moto: OpenDest) -> None:
        dest = open_moto()
        listing = dest.list()
        del listing  # the suite's guard fails the test if the thread lingers

    def test_listing_starts_before_it_is_read(self, open_moto: OpenDest, tmp_path: Path) -> None:
        dest = open_moto()
        source = tmp_path / "f"
        source.write_bytes(b"x")
        with SourceFile(str(source)) as opened:
            dest.put("a/f", opened)
        listing = dest.list()
        assert [info.key for info in listing] == ["a/f"]


class TestCacheFiles:
    """The cache's -wal and -shm, made by SQLite while it is open, are 0600 too."""

    def test_wal_and_shm_are_private_under_umask_000(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            cache = MetadataCache(tmp_path / "new" / "c.sqlite")
            try:
                cache.put(ObjectInfo("a", 3, 10, 0o644, "h"), '"e1"')
                cache.flush()
                names = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "new").iterdir()}
            finally:
                cache.close()
        finally:
            os.umask(old)
        assert names == {"c.sqlite": 0o600, "c.sqlite-wal": 0o600, "c.sqlite-shm": 0o600}
        assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
