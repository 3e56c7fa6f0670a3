"""The shared watcher's tap stands for a whole Watcher."""

from __future__ import annotations

from fsreplica.daemon.watchhub import Tap
from fsreplica.watch import Watcher


def test_a_tap_overrides_every_public_member_of_watcher() -> None:
    """A Watcher method a tap inherited would read the tap's own, empty watcher."""
    public = {name for name in dir(Watcher) if not name.startswith("_")}
    assert public - {"config"} <= set(vars(Tap))
