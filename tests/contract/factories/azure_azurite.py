"""Contract factories: AzureDestination on Azurite, Microsoft's emulator (every run).

One Azurite serves the whole session (`servers.azurite`); each test gets a fresh container,
reached with the emulator's development account given explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fsreplica.destinations.azure import AzureDestination
from servers import azurite


@contextlib.contextmanager
def _azurite(tmp_path: Path, **options: Any) -> Iterator[AzureDestination]:
    endpoint = azurite.endpoint()
    container = azurite.new_container()
    dest = AzureDestination.from_url(
        f"az://{container}/replica/{tmp_path.name}",
        endpoint_url=endpoint,
        account_name=azurite.ACCOUNT,
        account_key=azurite.KEY,
        metadata_cache=tmp_path / "azure-metadata.sqlite",
        **options,
    )
    try:
        yield dest
    finally:
        dest.close()
        azurite.delete_container(container)


@contextlib.contextmanager
def azure_azurite(tmp_path: Path) -> Iterator[AzureDestination]:
    with _azurite(tmp_path) as dest:
        yield dest


@contextlib.contextmanager
def azure_azurite_blocks(tmp_path: Path) -> Iterator[AzureDestination]:
    """Every non-empty file goes as blocks and a block list."""
    with _azurite(tmp_path, multipart_threshold=0, part_size=1024 * 1024) as dest:
        yield dest


FACTORIES = [("azure-azurite", azure_azurite), ("azure-azurite-blocks", azure_azurite_blocks)]
