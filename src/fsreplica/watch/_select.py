"""What `backend="auto"` picks for a root, and why (for the log and `fsreplica watch`)."""

from __future__ import annotations

import sys
from typing import NamedTuple

from fsreplica.watch._fstype import fs_type, is_network


class Choice(NamedTuple):
    """A backend for one root, with the reason shown to people."""

    backend: str
    reason: str


def choose(requested: str, root: str, *, platform: str = sys.platform) -> Choice:
    """Pick the backend for `root`.

    Args:
        requested: The configured backend; anything but "auto" is taken as is.
        root: The root directory (absolute).
        platform: `sys.platform`, a parameter for tests.
    """
    if requested != "auto":
        return Choice(requested, "configured")
    if not platform.startswith("linux"):
        return Choice("portable", f"native events on {platform}")
    fstype = fs_type(root)
    if fstype is None:
        return Choice("inotify", "file system type unknown")
    if is_network(fstype):
        return Choice("polling", f"{fstype} does not report changes made elsewhere")
    return Choice("inotify", f"local {fstype}")
