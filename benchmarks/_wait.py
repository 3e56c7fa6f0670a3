"""Wait for a condition a benchmark polls (a count at DEST, a log line), with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, *, poll: float = 0.002
) -> None:
    """Poll `condition` every `poll` seconds until it holds.

    Raises:
        TimeoutError: `condition` still does not hold after `timeout` seconds (names `what`).
    """
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(what)
        time.sleep(poll)
