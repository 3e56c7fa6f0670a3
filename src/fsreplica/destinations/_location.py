"""Reading a destination's URL: its scheme, and for a local one the directory it names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Location:
    """What a destination URL or path names.

    Attributes:
        scheme: The lower-case scheme; "file" for a plain path or a `file://` URL.
        url: The URL or path as given.
        path: For "file", the absolute local directory; otherwise None.
        host: For a `file://` URL, its host part ("" or "localhost" for this machine).
    """

    scheme: str
    url: str
    path: str | None = None
    host: str = ""


def parse_location(url_or_path: str | os.PathLike[str]) -> Location:
    """Read `url_or_path` as `open_destination` does.

    Anything without a well-formed `scheme://` head is a local path (so `a://b` with an odd
    scheme, or a name with `://` inside, stays a path rather than an unknown scheme).
    """
    url = os.fspath(url_or_path)
    head, sep, _ = url.partition("://")
    if not sep or not head or not head.replace("+", "").replace("-", "").isalnum():
        return Location("file", url, os.path.abspath(url))
    scheme = head.lower()
    if scheme != "file":
        return Location(scheme, url)
    parts = urlsplit(url)
    return Location("file", url, os.path.abspath(unquote(parts.path)), parts.netloc)
