"""The owner thread every backend runs: the only thread that touches the backend's state.

Other threads reach it in three ways: `call` runs a function in it and waits for the result,
`wake` tells it the consumer made room, `request_stop` asks it to finish. Each of these notifies
the condition `cond` (for an owner that sleeps on it) and calls the waker (for an owner that
sleeps elsewhere, such as in poll() on an eventfd), so no owner wakes on a timeout just to look
at a flag. A loop that raises is reported as an `InternalError` in the consumer's stream, and the
shutdown always runs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from fsreplica.errors import InternalError, WatcherStopped

Command = tuple[Callable[[], Any], Future[Any]]


def _nothing() -> None:
    """The waker of an owner that sleeps on `cond` alone."""


class Owner:
    """One backend's thread, its command queue and its stop flag.

    The loop runs until it returns; it should return once `stopping` is set. It takes queued
    commands with `take()` (under `cond` when it sleeps on it) and runs them with `run()`.

    Args:
        name: The thread's name (named in an `InternalError`).
        loop: The owner's loop.
        shutdown: Runs in the thread after the loop, whether it returned or raised.
        report: Hands an `InternalError` to the consumer's stream when the loop raises.
        waker: Interrupts the owner's sleep when it does not sleep on `cond`.
    """

    def __init__(
        self,
        name: str,
        *,
        loop: Callable[[], None],
        shutdown: Callable[[], None],
        report: Callable[[InternalError], None],
        waker: Callable[[], None] = _nothing,
    ) -> None:
        self.cond = threading.Condition()
        self.stopping = False
        self._woken = False
        self._commands: deque[Command] = deque()
        self._waker = waker
        self._loop = loop
        self._shutdown = shutdown
        self._report = report
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    # ----------------------------------------------------------------- other threads

    def call(self, fn: Callable[[], Any], path: str) -> Any:
        """Have the owner thread run `fn` and return its result (or raise its exception).

        Raises:
            WatcherStopped: The backend is stopping or its thread is gone.
        """
        future: Future[Any] = Future()
        with self.cond:
            if self.stopping or not self._thread.is_alive():
                raise WatcherStopped("watch", path)
            self._commands.append((fn, future))
            self.cond.notify()
        self._waker()
        return future.result()

    def wake(self) -> None:
        """Wake the owner thread (the consumer made room)."""
        with self.cond:
            self._woken = True
            self.cond.notify()
        self._waker()

    def request_stop(self) -> None:
        """Ask the owner thread to finish; return at once.

        Raises:
            RuntimeError: Called from the owner thread itself (it would wait for itself).
        """
        self.check_caller()
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self._waker()

    def check_caller(self) -> None:
        """Refuse a stop from the owner thread itself (it would wait for itself).

        Raises:
            RuntimeError: Called from the owner thread.
        """
        if self._thread is threading.current_thread():
            raise RuntimeError("stop() called from the watcher's own thread")

    def join(self) -> None:
        """Wait for the owner thread to end."""
        self._thread.join()

    # ----------------------------------------------------------------- owner thread

    def pending(self) -> bool:
        """With `cond` held: is there a command, a wake-up or a stop to act on?"""
        return self.stopping or self._woken or bool(self._commands)

    def take(self) -> list[Command]:
        """Take the queued commands and clear the wake-up (with `cond` held, or not)."""
        if not self._commands:  # the common case in a busy loop: no lock round
            self._woken = False
            return []
        with self.cond:
            commands = list(self._commands)
            self._commands.clear()
            self._woken = False
        return commands

    @staticmethod
    def run(commands: list[Command], after: Callable[[], None] | None = None) -> None:
        """Run taken commands, handing each result to its caller; call `after` after each."""
        for fn, future in commands:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            if after is not None:
                after()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug must not leave consumers blocked forever
            # Raised in the consumer's stream, with the traceback as its cause.
            self._report(InternalError(self._thread.name, exc))
        finally:
            with self.cond:
                self.stopping = True  # calls are refused from now on
            try:
                self._shutdown()
            finally:
                self._fail_pending()

    def _fail_pending(self) -> None:
        """Fail every command not yet taken with WatcherStopped."""
        with self.cond:
            commands = list(self._commands)
            self._commands.clear()
        for _, future in commands:
            future.set_exception(WatcherStopped())
