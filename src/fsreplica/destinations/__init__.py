"""Destinations, and `open_destination(url_or_path)` to pick one from a URL.

A scheme registry maps each URL scheme to "module:attribute", imported only when a URL with that
scheme is opened (so `s3://` needs its client library only when used). The attribute is a class
or a callable. When it has a `from_url` classmethod it is called as `from_url(url, **options)`,
otherwise as `attribute(url, **options)`; either way it receives the full URL string and returns
a `Destination`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from fsreplica.destinations._base import (
    CAPABILITIES,
    LEASE_KEY,
    Destination,
    Features,
    ObjectInfo,
    ObjectVersion,
    Staged,
    SupportsConditional,
    SupportsCopy,
    SupportsFetch,
    SupportsLinks,
    SupportsLocalRoot,
    SupportsQuickList,
    SupportsRead,
    SupportsRename,
    SupportsSetMetadata,
    SupportsStage,
    SupportsSweep,
    SupportsVersions,
    check_key,
    features_of,
)
from fsreplica.destinations._location import Location, parse_location
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import InvalidKeyError, NotRegularFileError, SourceChangedError

_SCHEMES: dict[str, tuple[str, str | None]] = {
    # scheme: (module:attribute, pip extra that provides its dependencies)
    "file": ("fsreplica.destinations.local:LocalDestination", None),
    "memory": ("fsreplica.destinations.memory:MemoryDestination", None),
    "s3": ("fsreplica.destinations.s3:S3Destination", "s3"),
    "az": ("fsreplica.destinations.azure:AzureDestination", "azure"),
    "gs": ("fsreplica.destinations.gcs:GCSDestination", "gcs"),
}


def register_destination(scheme: str, target: str, *, extra: str | None = None) -> None:
    """Register (or replace) the destination opened for `scheme://` URLs.

    Args:
        scheme: The URL scheme, lower-case, without "://".
        target: "package.module:Attribute"; imported on first use.
        extra: The pip extra to suggest when the import fails.
    """
    _SCHEMES[scheme.lower()] = (target, extra)


def open_destination(url_or_path: str | os.PathLike[str], **options: Any) -> Destination:
    """Open the destination named by a URL (`file:///backup`, `s3://bucket/prefix`) or a path.

    Args:
        url_or_path: A local path, or a URL whose scheme is registered.
        **options: Passed to the destination's constructor.

    Raises:
        ValueError: The scheme is unknown, or the URL is malformed.
        ImportError: The destination's dependencies are missing; the message says which pip extra
            installs them.
        DestinationError: The destination cannot be opened.
    """
    url = os.fspath(url_or_path)
    scheme = parse_location(url).scheme
    try:
        target, extra = _SCHEMES[scheme]
    except KeyError:
        known = ", ".join(sorted(_SCHEMES))
        raise ValueError(
            f"unknown destination scheme {scheme!r} in {url} (known: {known})"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = (
            f"pip install 'fsreplica[{extra}]' (in a clone of fsreplica: pip install '.[{extra}]')"
            if extra
            else "reinstall fsreplica"
        )
        raise ImportError(f"{scheme}:// destinations need extra packages: {hint} ({exc})") from exc
    factory = getattr(module, attr)
    opener = getattr(factory, "from_url", factory)
    destination: Destination = opener(url, **options)
    return destination


__all__ = [
    "CAPABILITIES",
    "LEASE_KEY",
    "Destination",
    "Features",
    "InvalidKeyError",
    "Location",
    "NotRegularFileError",
    "ObjectInfo",
    "ObjectVersion",
    "SourceChangedError",
    "SourceFile",
    "Staged",
    "SupportsConditional",
    "SupportsCopy",
    "SupportsFetch",
    "SupportsLinks",
    "SupportsLocalRoot",
    "SupportsQuickList",
    "SupportsRead",
    "SupportsRename",
    "SupportsSetMetadata",
    "SupportsStage",
    "SupportsSweep",
    "SupportsVersions",
    "check_key",
    "features_of",
    "open_destination",
    "parse_location",
    "register_destination",
]
