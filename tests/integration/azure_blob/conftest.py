"""Fixtures for the Azure integration tests: containers on the session's Azurite, destinations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fsreplica.destinations.azure import AzureDestination
from servers import azurite

OpenDest = Callable[..., AzureDestination]


@pytest.fixture
def container() -> Iterator[str]:
    """A fresh container on the shared Azurite."""
    name = azurite.new_container()
    yield name
    azurite.delete_container(name)


@pytest.fixture
def open_azure(container: str, tmp_path: Path) -> Iterator[OpenDest]:
    """Open AzureDestinations on the container (closed after the test)."""
    opened: list[AzureDestination] = []

    def open_dest(prefix: str = "p", **options: Any) -> AzureDestination:
        options.setdefault("metadata_cache", tmp_path / f"cache-{len(opened)}.sqlite")
        options.setdefault("endpoint_url", azurite.endpoint())
        options.setdefault("account_name", azurite.ACCOUNT)
        options.setdefault("account_key", azurite.KEY)
        dest = AzureDestination.from_url(f"az://{container}/{prefix}", **options)
        opened.append(dest)
        return dest

    yield open_dest
    for dest in opened:
        dest.close()
