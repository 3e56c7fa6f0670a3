"""Preflight: every way of being unusable is one clear line without secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fsreplica.destinations.s3 import PreflightError, S3Destination
from servers import ceph, motoserver

OpenDest = Callable[..., S3Destination]


class TestPreflight:
    """One line for a missing bucket, wrong credentials, an unreachable endpoint."""

    def test_ok_and_probe_removed(self, open_ceph: OpenDest, ceph_bucket: tuple) -> None:
        cluster, bucket = ceph_bucket
        dest = open_ceph()
        dest.preflight()
        assert dest.conditional is True  # RGW 16 honours If-None-Match
        s3 = motoserver.client(
            cluster.endpoint, access_key=cluster.access_key, secret_key=cluster.secret_key
        )
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

    def test_missing_bucket(self) -> None:
        cluster = ceph.shared()
        dest = S3Destination.from_url(
            "s3://no-such-bucket-here/x",
            endpoint_url=cluster.endpoint,
            access_key_id=cluster.access_key,
            secret_access_key=cluster.secret_key,
            metadata_cache=False,
            preflight=False,
        )
        with dest, pytest.raises(PreflightError) as caught:
            dest.preflight()
        assert str(caught.value) == "s3://no-such-bucket-here: bucket does not exist"

    def test_wrong_access_key(self, ceph_bucket: tuple) -> None:
        cluster, bucket = ceph_bucket
        dest = S3Destination.from_url(
            f"s3://{bucket}",
            endpoint_url=cluster.endpoint,
            access_key_id="WRONGKEY",
            secret_access_key="wrong-secret-value",
            metadata_cache=False,
            preflight=False,
        )
        with dest, pytest.raises(PreflightError) as caught:
            dest.preflight()
        assert str(caught.value) == f"s3://{bucket}: access denied (check AWS_ACCESS_KEY_ID)"
        assert not caught.value.retryable

    def test_wrong_secret(self, ceph_bucket: tuple) -> None:
        cluster, bucket = ceph_bucket
        dest = S3Destination.from_url(
            f"s3://{bucket}",
            endpoint_url=cluster.endpoint,
            access_key_id=cluster.access_key,
            secret_access_key="wrong-secret-value",
            metadata_cache=False,
            preflight=False,
        )
        with dest, pytest.raises(PreflightError) as caught:
            dest.preflight()
        message = str(caught.value)
        assert message == f"s3://{bucket}: access denied (check AWS_SECRET_ACCESS_KEY)"
        assert "wrong-secret-value" not in message

    def test_unreachable_endpoint(self) -> None:
        port = ceph.free_port()
        dest = S3Destination.from_url(
            "s3://bucket/p",
            endpoint_url=f"http://127.0.0.1:{port}",
            access_key_id="a",
            secret_access_key="b",
            metadata_cache=False,
            preflight=False,
        )
        with dest, pytest.raises(PreflightError) as caught:
            dest.preflight()
        assert str(caught.value) == f"s3://bucket: cannot reach http://127.0.0.1:{port}"
        assert caught.value.retryable

    def test_no_credentials(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ):
            monkeypatch.delenv(name, raising=False)
        # No config files, and never ask an instance metadata service (off-host network).
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        dest = S3Destination.from_url(
            "s3://bucket", endpoint_url=motoserver.endpoint(), metadata_cache=False, preflight=False
        )
        with dest, pytest.raises(PreflightError) as caught:
            dest.preflight()
        assert str(caught.value).startswith("s3://bucket: no credentials found")

    def test_credentials_from_environment(
        self, monkeypatch: pytest.MonkeyPatch, moto_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = moto_bucket
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", motoserver.ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", motoserver.SECRET_KEY)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        with S3Destination.from_url(
            f"s3://{bucket}/x", metadata_cache=False, preflight=False
        ) as dest:
            dest.preflight()
            assert dest.connection.endpoint_url == endpoint
            assert dest.connection.path_style
            assert "motosecret" not in repr(dest)

    def test_url_has_no_secret(self, open_moto: OpenDest) -> None:
        dest = open_moto("a/b/")
        assert dest.url.endswith("/a/b")
        assert motoserver.SECRET_KEY not in repr(dest) + dest.url

    @pytest.mark.parametrize(
        "url", ["s3://", "s3://user:pw@bucket/x", "s3://bucket/x?endpoint=y", "gs://b"]
    )
    def test_bad_urls(self, url: str) -> None:
        with pytest.raises(ValueError):
            S3Destination.from_url(url, metadata_cache=False)
