"""The generation last seen of each object, so a conditional write needs no lookup first.

GCS numbers every version of an object (its generation); a write conditioned on the number last
seen (`if_generation_match`) never replaces a version this process has not seen. A number that
is not known costs one request more (the write is tried as a create, refused, and the current
generation looked up), never a wrong write, so the map is bounded: it is emptied when full.
"""

from __future__ import annotations

import threading

MAX_ENTRIES = 100_000


class Generations:
    """object name -> generation, thread-safe, at most `limit` entries.

    Args:
        limit: How many names are kept before the map is emptied.
    """

    def __init__(self, *, limit: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._known: dict[str, int] = {}

    def get(self, name: str) -> int | None:
        """The generation last seen of `name`, or None."""
        with self._lock:
            return self._known.get(name)

    def set(self, name: str, generation: int | None) -> None:
        """Remember `generation` for `name` (forget it when None)."""
        with self._lock:
            if generation is None:
                self._known.pop(name, None)
                return
            if len(self._known) >= self._limit and name not in self._known:
                self._known.clear()
            self._known[name] = int(generation)

    def forget(self, name: str) -> None:
        """Drop `name`."""
        self.set(name, None)
