"""Azure URLs, connection strings and the order in which credentials are found."""

from __future__ import annotations

import pytest

from fsreplica._names import from_key, to_blob_key
from fsreplica.destinations._store.meta import parse_mtime
from fsreplica.destinations.azure._config import DEV_ACCOUNT, DEV_ENDPOINT, parse_url, resolve
from fsreplica.errors import PreflightError

KEY = "a2V5LW5vdC1mb3ItbG9ncw=="


@pytest.fixture(autouse=True)
def _no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)


class TestUrl:
    """az://container/prefix."""

    def test_parts(self) -> None:
        assert parse_url("az://c/a/b/").container == "c"
        assert parse_url("az://c/a//b/").prefix == "a/b/"
        assert parse_url("az://c").url == "az://c"
        assert parse_url("AZ://c/p").url == "az://c/p"


class TestResolve:
    """Explicit > connection string > account name with key or SAS > default chain."""

    def test_connection_string(self) -> None:
        conn = resolve(
            where="az://c",
            endpoint_url=None,
            connection_string=(
                f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
                "EndpointSuffix=core.chinacloudapi.cn"
            ),
        )
        assert (conn.account, conn.account_key) == ("acct", KEY)
        assert conn.blob_endpoint == "https://acct.blob.core.chinacloudapi.cn"
        assert KEY not in repr(conn)
        assert conn.secrets() == (KEY,)

    def test_development_storage(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
        conn = resolve(where="az://c", endpoint_url=None)
        assert (conn.account, conn.blob_endpoint) == (DEV_ACCOUNT, DEV_ENDPOINT)
        assert conn.source == "AZURE_STORAGE_CONNECTION_STRING"

    def test_sas_and_blob_endpoint_name_the_account(self) -> None:
        conn = resolve(
            where="az://c",
            endpoint_url=None,
            connection_string="BlobEndpoint=https://acct.blob.core.windows.net/;"
            "SharedAccessSignature=?sv=1&sig=abc",
        )
        assert (conn.account, conn.sas_token, conn.account_key) == ("acct", "sv=1&sig=abc", None)
        assert conn.blob_endpoint == "https://acct.blob.core.windows.net"

    def test_environment_order(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
        assert resolve(where="az://c", endpoint_url=None).uses_chain
        monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "?sig=s")
        assert resolve(where="az://c", endpoint_url=None).sas_token == "sig=s"
        monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", KEY)
        conn = resolve(where="az://c", endpoint_url=None)
        assert (conn.account_key, conn.source) == (KEY, "AZURE_STORAGE_ACCOUNT_KEY")
        monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:1/acct/")
        assert resolve(where="az://c", endpoint_url=None).endpoint_url == "http://127.0.0.1:1/acct"
        explicit = resolve(where="az://c", endpoint_url="http://127.0.0.1:2/acct")
        assert explicit.endpoint_url == "http://127.0.0.1:2/acct"

    def test_no_account(self) -> None:
        with pytest.raises(PreflightError, match=r"^az://c/p: no storage account"):
            resolve(where="az://c/p", endpoint_url=None)

    def test_bad_endpoint(self) -> None:
        with pytest.raises(ValueError, match="http"):
            resolve(where="az://c", endpoint_url="ftp://x", account_name="a", account_key=KEY)


class TestBlobNames:
    """Backslashes and trailing dots are escaped; everything decodes back."""

    @pytest.mark.parametrize(
        "name", ["a.b/c.", "x\\y", "plain", "a./b", ".", "a..", "\u201b.", "d\udcff.", "a\nb"]
    )
    def test_round_trip(self, name: str) -> None:
        key = to_blob_key(name)
        assert "\\" not in key
        assert not any(part.endswith(".") for part in key.split("/"))
        assert from_key(key) == name


class TestMtime:
    """mtime as rclone writes it on S3 (seconds) and on Azure (RFC 3339)."""

    def test_formats(self) -> None:
        assert parse_mtime("1577930645.123456789") == 1577930645123456789
        assert parse_mtime("2020-01-02T02:04:05.123456789Z") == 1577930645123456789
        assert parse_mtime("2020-01-02T03:04:05.123456789+01:00") == 1577930645123456789
        assert parse_mtime("2020-01-02T02:04:05Z") == 1577930645000000000
        assert parse_mtime("garbage") is None
