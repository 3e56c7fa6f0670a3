"""Helpers for watcher tests against the real kernel: a consumer thread and condition waits.

Every test that uses `make_watcher` is a contract test: it runs once per backend in `BACKENDS`.
`@pytest.mark.backends("inotify")` limits a test to the backends named (kernel overflow, sysctls,
mounts); `@pytest.mark.limitation("polling", reason=...)` marks a guarantee a backend cannot give
as a strict xfail, so the limitation stays documented and a fix is noticed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import fsreplica

WAIT = 10.0  # seconds: the bound for every wait; a correct watcher answers in milliseconds
# FSREPLICA_TEST_BACKENDS=inotify limits a run to some backends (a platform without watchdog, say).
BACKENDS = tuple(os.environ.get("FSREPLICA_TEST_BACKENDS", "inotify,portable,polling").split(","))
POLL_INTERVAL = 0.05  # seconds: short, so polling tests wait about as long as the others


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test using `make_watcher` over each backend it applies to."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    chosen = marker.args if marker is not None else BACKENDS
    metafunc.parametrize("backend", chosen)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Turn `limitation` marks naming a test's backend into strict xfails.

    Done per collected item, so a limitation can sit on the test or on one of its parameters
    (`pytest.param("move", marks=pytest.mark.limitation("portable", reason=...))`).
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "backend" not in callspec.params:
            continue
        backend = callspec.params["backend"]
        for mark in item.iter_markers("limitation"):
            if backend in mark.args:
                item.add_marker(pytest.mark.xfail(strict=True, reason=mark.kwargs["reason"]))
                break


class Collector:
    """Consumes a watcher's events in a thread; tests wait for conditions on what arrived.

    With `read_content` set, it also mirrors the files as a replicator would: each put reads the
    file as it is when the event is consumed (into `contents`), each delete forgets it.
    """

    def __init__(self, watcher: fsreplica.Watcher) -> None:
        self.watcher = watcher
        self.read_content = False
        self.contents: dict[str, bytes] = {}
        self.events: list[fsreplica.FileSystemEvent] = []
        self.errors: list[fsreplica.WatcherError] = []
        self._cond = threading.Condition()
        self.running = threading.Event()
        self.running.set()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._consume, name="test-collector", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        try:
            while True:
                try:
                    for event in self.watcher.events():
                        self.running.wait()
                        if self.read_content:
                            self._mirror(event)
                        with self._cond:
                            self.events.append(event)
                            self._cond.notify_all()
                    return
                except fsreplica.WatcherError as exc:
                    with self._cond:
                        self.errors.append(exc)
                        self._cond.notify_all()
        finally:
            self.done.set()
            with self._cond:
                self._cond.notify_all()

    def _mirror(self, event: fsreplica.FileSystemEvent) -> None:
        try:
            data = Path(event.path).read_bytes() if event.operation == "put" else None
        except OSError:
            data = None
        with self._cond:
            if data is None:
                self.contents.pop(event.key, None)
            else:
                self.contents[event.key] = data

    def wait(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        """Wait until `predicate()` holds (checked on every arrival); False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_key(
        self, key: str, op: str = "put", timeout: float = WAIT
    ) -> fsreplica.FileSystemEvent:
        """Wait for an event of `op` on `key` and return the latest one."""
        found: list[fsreplica.FileSystemEvent] = []

        def seen() -> bool:
            found[:] = [e for e in self.events if e.key == key and e.operation == op]
            return bool(found)

        assert self.wait(seen, timeout), f"no {op} {key}; got {self.summary()}"
        return found[-1]

    def final(self) -> dict[str, str]:
        """The last operation reported for each key."""
        with self._cond:
            return {e.key: str(e.operation) for e in self.events}

    def seen(self, op: str = "put") -> set[str]:
        with self._cond:
            return {e.key for e in self.events if e.operation == op}

    def summary(self) -> str:
        with self._cond:
            items = [f"{e.operation} {e.key}" for e in self.events[-20:]]
        return f"{len(self.events)} events, last: {items}, errors: {self.errors}"

    def marker(self, root: Path, name: str = "zz-marker") -> None:
        """Write a sentinel file and wait for it: everything before it has been processed."""
        path = root / name
        path.write_text(str(len(self.events)))
        self.wait_key(name)
        with self._cond:
            self.events = [e for e in self.events if e.key != name]

    def mark(self, root: Path) -> int:
        """Like `marker`, and return the number of events seen before it."""
        self.marker(root)
        return len(self.events)


@pytest.fixture
def make_watcher(backend: str) -> Iterator[Callable[..., tuple[fsreplica.Watcher, Collector]]]:
    """Build watchers on `backend` (stopped at the end of the test) with a consumer thread each."""
    made: list[tuple[fsreplica.Watcher, Collector]] = []

    def make(*roots: Path, **options: object) -> tuple[fsreplica.Watcher, Collector]:
        options.setdefault("debounce_delay", 0.05)
        options.setdefault("backend", backend)
        if options["backend"] == "polling":
            options.setdefault("poll_interval", POLL_INTERVAL)
        watcher = fsreplica.Watcher(fsreplica.WatcherConfig(**options))  # type: ignore[arg-type]
        for root in roots:
            watcher.watch(root)
        collector = Collector(watcher)
        made.append((watcher, collector))
        return watcher, collector

    yield make
    for watcher, collector in made:
        collector.running.set()
        watcher.stop()
        assert collector.done.wait(WAIT)


def write(path: Path, data: str | bytes) -> None:
    """Write a file in one open/write/close."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


@contextlib.contextmanager
def sysctl(path: str, value: int) -> Iterator[None]:
    """Set a /proc/sys value for the block, and restore the old one even when it fails."""
    with open(path) as f:
        old = f.read()
    with open(path, "w") as f:
        f.write(str(value))
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


__all__ = ["BACKENDS", "WAIT", "Collector", "os", "sysctl", "write"]
