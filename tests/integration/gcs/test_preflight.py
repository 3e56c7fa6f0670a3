"""Preflight and credentials: every way of being unusable is one clear line, at once, and
nothing dials a metadata server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials

from fsreplica.destinations import open_destination
from fsreplica.destinations.gcs import GCSDestination, PreflightError
from fsreplica.destinations.gcs._config import endpoint_from, parse_url
from servers import fakegcs

OpenDest = Callable[..., GCSDestination]

NO_CREDENTIALS = (
    "no credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run 'gcloud auth "
    "application-default login', or set STORAGE_EMULATOR_HOST for an emulator)"
)


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Google settings of the user: no emulator, no credentials file, an empty gcloud dir."""
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "GCLOUD_", "CLOUDSDK_", "STORAGE_EMULATOR")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))


def service_account(tmp_path: Path, token_uri: str) -> tuple[Path, str]:
    """A service account key file (a fresh RSA key) whose tokens come from `token_uri`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "fsreplica-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "replica@fsreplica-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path = tmp_path / "key.json"
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return path, pem


class TestPreflight:
    """One line for a missing bucket, refused credentials, an unreachable endpoint."""

    def test_ok_probe_removed_and_conditional(
        self, open_gcs: OpenDest, gcs_bucket: tuple[str, str]
    ) -> None:
        _, bucket = gcs_bucket
        dest = open_gcs()
        dest.preflight()
        assert dest.conditional is True  # would be False had the probe's second create passed
        assert fakegcs.objects(bucket) == {}

    def test_missing_bucket(self, bare_env: None) -> None:
        with pytest.raises(PreflightError) as caught:
            GCSDestination.from_url(
                "gs://no-such-bucket-here/x",
                endpoint_url=fakegcs.endpoint(),
                credentials=AnonymousCredentials(),
            )
        assert str(caught.value) == "gs://no-such-bucket-here: bucket does not exist"
        assert not caught.value.retryable

    def test_unreachable_endpoint(self, bare_env: None) -> None:
        port = fakegcs.free_port()
        started = time.monotonic()
        with pytest.raises(PreflightError) as caught:
            GCSDestination.from_url("gs://b/p", endpoint_url=f"http://127.0.0.1:{port}")
        assert str(caught.value) == f"gs://b: cannot reach http://127.0.0.1:{port}"
        assert caught.value.retryable
        assert time.monotonic() - started < 10  # tried once, not retried for 20 s

    def test_no_credentials_is_one_line_and_dials_nothing(self, bare_env: None) -> None:
        # Without credentials google.auth.default() would try 169.254.169.254 for seconds; the
        # loopback guard (tests/netguard.py) fails this test if anything is dialled.
        started = time.monotonic()
        with pytest.raises(PreflightError) as caught:
            open_destination("gs://bucket/prefix")
        assert str(caught.value) == f"gs://bucket: {NO_CREDENTIALS}"
        assert time.monotonic() - started < 5

    def test_refused_credentials(
        self, bare_env: None, tmp_path: Path, gcs_bucket: tuple[str, str]
    ) -> None:
        # The key's token endpoint is the emulator, which has none: the token is refused (404),
        # as Google's refuses a revoked key.
        endpoint, bucket = gcs_bucket
        key, _ = service_account(tmp_path, f"{endpoint}/token")
        with pytest.raises(PreflightError) as caught:
            GCSDestination.from_url(f"gs://{bucket}/p", endpoint_url=endpoint, credentials_file=key)
        message = str(caught.value)
        assert message == (
            f"gs://{bucket}: credentials refused (check GOOGLE_APPLICATION_CREDENTIALS)"
        )
        assert "PRIVATE KEY" not in message
        assert not caught.value.retryable

    def test_unreachable_token_endpoint(self, bare_env: None, tmp_path: Path) -> None:
        port = fakegcs.free_port()
        key, _ = service_account(tmp_path, f"http://127.0.0.1:{port}/token")
        with pytest.raises(PreflightError) as caught:
            GCSDestination.from_url(
                "gs://b/p", endpoint_url=fakegcs.endpoint(), credentials_file=key
            )
        assert str(caught.value) == "gs://b: cannot get a token: connection refused"

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (None, "no such file or directory"),
            ("{not json", "not a credentials file google-auth can use"),
            ('{"type": "nonsense"}', "not a credentials file google-auth can use"),
        ],
    )
    def test_bad_credentials_file(
        self,
        bare_env: None,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        content: str | None,
        reason: str,
    ) -> None:
        path = tmp_path / "creds.json"
        if content is not None:
            path.write_text(content)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        with pytest.raises(PreflightError) as caught:
            open_destination("gs://bucket/p")
        assert str(caught.value) == f"gs://bucket: GOOGLE_APPLICATION_CREDENTIALS {path}: {reason}"


class TestCredentialChain:
    """Where credentials and the endpoint come from, as Google's own clients find them."""

    def test_emulator_host_means_anonymous(
        self, bare_env: None, monkeypatch: pytest.MonkeyPatch, gcs_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = gcs_bucket
        # host:port without a scheme, as the emulator's documentation writes it
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint.removeprefix("http://"))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/ignored.json")
        with open_destination(f"gs://{bucket}/p") as dest:
            assert isinstance(dest, GCSDestination)
            assert dest.connection.endpoint == endpoint
            assert dest.connection.anonymous
            assert dest.connection.source == "STORAGE_EMULATOR_HOST"

    def test_application_default_credentials_file(
        self, bare_env: None, tmp_path: Path, gcs_bucket: tuple[str, str]
    ) -> None:
        # gcloud's ADC file: found under $CLOUDSDK_CONFIG, then used (and refused here).
        endpoint, bucket = gcs_bucket
        key, _ = service_account(tmp_path, f"{endpoint}/token")
        (tmp_path / "gcloud").mkdir()
        key.rename(tmp_path / "gcloud" / "application_default_credentials.json")
        with pytest.raises(PreflightError) as caught:
            GCSDestination.from_url(f"gs://{bucket}/p", endpoint_url=endpoint)
        assert "credentials refused" in str(caught.value)

    def test_endpoint_without_credentials_is_anonymous(
        self, bare_env: None, gcs_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = gcs_bucket
        with GCSDestination.from_url(f"gs://{bucket}/p", endpoint_url=endpoint) as dest:
            assert dest.connection.anonymous
            assert list(dest.list()) == []

    def test_urls_and_endpoints(self) -> None:
        assert parse_url("gs://b").prefix == ""
        assert parse_url("gs://b//a/b/").prefix == "a/b/"
        assert parse_url("gs://b/a").url == "gs://b/a"
        for bad in ("gs://", "s3://b/a", "gs://user@b/a", "gs://b/a?x=1"):
            with pytest.raises(ValueError, match="gs"):
                parse_url(bad)
        assert endpoint_from("127.0.0.1:4443") == "http://127.0.0.1:4443"
        assert endpoint_from("https://gcs.example/") == "https://gcs.example"
        with pytest.raises(ValueError, match="endpoint"):
            endpoint_from("ftp://x")
