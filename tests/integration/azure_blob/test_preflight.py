"""Preflight and credentials: every way of being unusable is one clear line without secrets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fsreplica.destinations.azure import AzureDestination, PreflightError
from servers import azurite

OpenDest = Callable[..., AzureDestination]
EXPLICIT = {"account_name": azurite.ACCOUNT, "account_key": azurite.KEY}


@pytest.fixture
def no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment without Azure settings (the test sets what it needs)."""
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)


def sas_for(container: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas  # noqa: PLC0415

    return generate_container_sas(
        azurite.ACCOUNT,
        container,
        account_key=azurite.KEY,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


@pytest.mark.usefixtures("no_azure_env")
class TestPreflight:
    """One line for a missing container, refused credentials, an unreachable endpoint."""

    def test_ok_and_probe_removed(self, open_azure: OpenDest, container: str) -> None:
        dest = open_azure()
        assert dest.conditional is True
        with azurite.service() as service:
            assert list(service.get_container_client(container).list_blobs()) == []

    def test_missing_container(self) -> None:
        with pytest.raises(PreflightError) as caught:
            AzureDestination.from_url(
                "az://no-such-container/x",
                endpoint_url=azurite.endpoint(),
                metadata_cache=False,
                **EXPLICIT,
            )
        assert str(caught.value) == "az://no-such-container: container does not exist"
        assert not caught.value.retryable

    def test_wrong_key(self, container: str) -> None:
        wrong = "A" * 20 + azurite.KEY[20:]
        with pytest.raises(PreflightError) as caught:
            AzureDestination.from_url(
                f"az://{container}/x",
                endpoint_url=azurite.endpoint(),
                account_name=azurite.ACCOUNT,
                account_key=wrong,
                metadata_cache=False,
            )
        assert str(caught.value) == (
            f"az://{container}: access denied (check the given credentials)"
        )
        assert wrong not in str(caught.value)

    def test_unreachable_endpoint(self) -> None:
        port = azurite.free_port()
        endpoint = f"http://127.0.0.1:{port}/{azurite.ACCOUNT}"
        with pytest.raises(PreflightError) as caught:
            AzureDestination.from_url(
                "az://container", endpoint_url=endpoint, metadata_cache=False, **EXPLICIT
            )
        assert str(caught.value).startswith(f"az://container: cannot reach {endpoint} (")
        assert caught.value.retryable

    def test_no_account(self) -> None:
        with pytest.raises(PreflightError) as caught:
            AzureDestination.from_url("az://container/x", metadata_cache=False)
        assert str(caught.value) == (
            "az://container/x: no storage account (set AZURE_STORAGE_ACCOUNT_NAME, or "
            "AZURE_STORAGE_CONNECTION_STRING)"
        )

    def test_account_key_from_environment(
        self, monkeypatch: pytest.MonkeyPatch, container: str
    ) -> None:
        monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azurite.ACCOUNT)
        monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", azurite.KEY)
        monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", azurite.endpoint())
        with AzureDestination.from_url(f"az://{container}/x", metadata_cache=False) as dest:
            assert dest.connection.source == "AZURE_STORAGE_ACCOUNT_KEY"
            assert dest.connection.blob_endpoint == azurite.endpoint()
            assert azurite.KEY not in repr(dest) + repr(dest.connection)

    def test_connection_string_from_environment(
        self, monkeypatch: pytest.MonkeyPatch, container: str
    ) -> None:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())
        with AzureDestination.from_url(f"az://{container}/x", metadata_cache=False) as dest:
            assert dest.connection.source == "AZURE_STORAGE_CONNECTION_STRING"
            assert dest.connection.account == azurite.ACCOUNT

    def test_sas_token(
        self, monkeypatch: pytest.MonkeyPatch, container: str, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azurite.ACCOUNT)
        monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", sas_for(container))
        with AzureDestination.from_url(
            f"az://{container}/x", endpoint_url=azurite.endpoint(), metadata_cache=False
        ) as dest:
            assert dest.connection.source == "AZURE_STORAGE_SAS_TOKEN"
            path = tmp_path / "f"
            path.write_bytes(b"through a sas")
            from fsreplica.destinations import SourceFile  # noqa: PLC0415

            with SourceFile(str(path)) as source:
                dest.put("f", source)
            dest.set_metadata("f", mtime_ns=5_000_000_000, mode=0o640)
            assert (dest.stat("f").mtime_ns, dest.stat("f").mode) == (5_000_000_000, 0o640)

    def test_sas_for_another_container_refused(
        self, monkeypatch: pytest.MonkeyPatch, container: str
    ) -> None:
        other = azurite.new_container()
        try:
            with pytest.raises(PreflightError) as caught:
                AzureDestination.from_url(
                    f"az://{container}/x",
                    endpoint_url=azurite.endpoint(),
                    account_name=azurite.ACCOUNT,
                    sas_token=sas_for(other),
                    metadata_cache=False,
                )
            assert str(caught.value).startswith(f"az://{container}: access denied")
        finally:
            azurite.delete_container(other)

    @pytest.mark.parametrize(
        "url", ["az://", "az://user:pw@container/x", "az://container/x?sig=y", "s3://b"]
    )
    def test_bad_urls(self, url: str) -> None:
        with pytest.raises(ValueError):
            AzureDestination.from_url(url, metadata_cache=False, **EXPLICIT)
