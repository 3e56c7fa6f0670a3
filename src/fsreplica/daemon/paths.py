"""Where the daemon keeps its config file and socket when none is named."""

from __future__ import annotations

import os


def default_config_path() -> str:
    """Return `$XDG_CONFIG_HOME/fsreplica/config.toml` (`~/.config` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "fsreplica", "config.toml")


def default_socket_path() -> str:
    """Return `$XDG_RUNTIME_DIR/fsreplica/fsreplica.sock`.

    Without XDG_RUNTIME_DIR (no login session: cron, a container), a directory of this user's
    under /tmp, which the daemon creates 0700 and refuses when another user owns it.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join("/tmp", f"fsreplica-{os.getuid()}")
    return os.path.join(base, "fsreplica", "fsreplica.sock")
