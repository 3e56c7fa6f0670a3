"""How other threads reach a polling or portable backend's owner thread.

One condition guards a queue of commands, a wake-up flag and a stop flag.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from fsreplica.errors import WatcherStopped

Command = tuple[Callable[[], Any], Future[Any]]


class Mailbox:
    """Commands and signals for an owner thread that sleeps on `cond`.

    The owner thread waits on `cond` while `pending()` is False (plus its own conditions, checked
    under the same lock), then takes the commands with `take()` and runs them with `run()`.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.stopping = False
        self._woken = False
        self._commands: deque[Command] = deque()

    def call(self, fn: Callable[[], Any], path: str, *, alive: bool) -> Any:
        """Have the owner thread run `fn` and return its result (or raise its exception).

        Raises:
            WatcherStopped: The backend is stopping or its thread is gone.
        """
        future: Future[Any] = Future()
        with self.cond:
            if self.stopping or not alive:
                raise WatcherStopped("watch", path)
            self._commands.append((fn, future))
            self.cond.notify()
        return future.result()

    def wake(self) -> None:
        """Wake the owner thread (the consumer made room)."""
        with self.cond:
            self._woken = True
            self.cond.notify()

    def request_stop(self) -> None:
        """Ask the owner thread to finish."""
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def pending(self) -> bool:
        """With `cond` held: is there a command, a wake-up or a stop to act on?"""
        return self.stopping or self._woken or bool(self._commands)

    def take(self) -> list[Command]:
        """With `cond` held: take the queued commands and clear the wake-up."""
        commands = list(self._commands)
        self._commands.clear()
        self._woken = False
        return commands

    @staticmethod
    def run(commands: list[Command]) -> None:
        """Run taken commands in the owner thread, handing each result to its caller."""
        for fn, future in commands:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Mark stopping and fail every command not yet taken with WatcherStopped."""
        with self.cond:
            self.stopping = True
            commands = self.take()
        for _, future in commands:
            future.set_exception(WatcherStopped())
