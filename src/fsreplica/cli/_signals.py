"""Signals of the command line, acted on in a thread of their own, whichever thread received them.

Python runs a signal's handler in the main thread, between two bytecodes. The kernel hands a
signal sent to the process to any thread that does not block it: to another thread when the
main thread blocks signals for a moment (around a fork, in a library's call). The handler then
waits until the main thread next runs bytecode, and a main thread asleep on a lock, an event or
a queue (a daemon waiting to be stopped) may never do so: SIGTERM went unheeded. Python's C
handler, though, writes each signal's number to the wakeup fd from whichever thread it ran in,
at once. So the relay's thread reads that fd and calls the handler registered for the signal;
the Python-level handler does nothing (it is installed so that the C one is, and the default
action, exiting on the spot, is not taken).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

Handler = Callable[[int], None]


def _nothing(signum: int, frame: object) -> None:
    """The Python-level handler: the relay's thread acts on the signal."""


class _Relay:
    """The process's wakeup fd and the thread that reads it."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # not inherited by children (PEP 446)
        os.set_blocking(self._write, False)  # the C handler must never block
        self._handlers: dict[int, Handler] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="fsreplica-signals", daemon=True).start()

    def handle(self, signum: int, handler: Handler) -> None:
        with self._lock:
            self._handlers[signum] = handler
        # Set again at each call: something else (an event loop in the main thread) may have
        # taken the process's one wakeup fd since the last.
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        signal.signal(signum, _nothing)

    def _run(self) -> None:
        while True:
            numbers = os.read(self._read, 64)
            for signum in numbers:
                with self._lock:
                    handler = self._handlers.get(signum)
                if handler is not None:
                    handler(signum)


_relay: _Relay | None = None
_relay_lock = threading.Lock()


def handle(signum: int, handler: Handler) -> bool:
    """Call `handler(signum)` in the relay's thread each time `signum` arrives.

    Replaces the signal's previous handler. `handler` runs in one thread for every signal, one
    at a time: it must return quickly (start a thread for long work).

    Returns:
        False when not called from the main thread (Python sets handlers only there): nothing
        was installed.
    """
    global _relay  # one wakeup fd per process
    if threading.current_thread() is not threading.main_thread():
        return False
    with _relay_lock:
        if _relay is None:
            _relay = _Relay()
        relay = _relay
    relay.handle(signum, handler)
    return True
