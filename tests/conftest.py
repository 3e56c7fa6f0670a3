"""Fixtures for the whole suite: guards that fail a test leaking watcher threads or fds, or
connecting to anything but this machine (`netguard`)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

import netguard

netguard.install()  # at collection: before any test, fixture or server starts
# Child Pythons (the CLI under test) install it too, through netguard_site/sitecustomize.py, and
# report to this file.
_NETGUARD_DIR = tempfile.mkdtemp(prefix="fsreplica-netguard-")
_NETGUARD_LOG = os.path.join(_NETGUARD_DIR, "refused.log")
atexit.register(shutil.rmtree, _NETGUARD_DIR, ignore_errors=True)
os.environ["FSREPLICA_NETGUARD_LOG"] = _NETGUARD_LOG
os.environ["PYTHONPATH"] = os.pathsep.join(
    [os.path.join(os.path.dirname(__file__), "netguard_site")]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

_LEAK_GRACE = 2.0  # seconds a test's threads get to finish after it returns


def _our_threads() -> set[threading.Thread]:
    # The signal relay's thread lives as long as the process, by design (see cli/_signals.py).
    return {
        t
        for t in threading.enumerate()
        if t.name.startswith("fsreplica") and t.name != "fsreplica-signals"
    }


def _watch_fds() -> set[str]:
    """Inotify instances and eventfds open in this process (what a watcher owns)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("anon_inode:") and ("inotify" in target or "eventfd" in target):
            found.add(f"{fd}:{target}")
    return found


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """Fail a test that leaves fsreplica threads running or inotify/eventfd fds open."""
    threads_before = _our_threads()
    fds_before = _watch_fds()
    yield
    deadline = time.monotonic() + _LEAK_GRACE
    while True:
        threads = _our_threads() - threads_before
        fds = _watch_fds() - fds_before
        if not threads and not fds:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    pytest.fail(f"leaked threads {sorted(t.name for t in threads)} and fds {sorted(fds)}")


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    """Fail a test that tried to connect to (or look up) anything but this machine."""
    netguard.take()  # refused between tests (a server's thread) belongs to no test: the last
    netguard.take_log(_NETGUARD_LOG)
    yield
    refused = netguard.take() + netguard.take_log(_NETGUARD_LOG)
    if refused:
        pytest.fail("; ".join(dict.fromkeys(refused)))
