"""SIGINT/SIGTERM handling of the command line: the stop work never runs inside the handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.threadsignal import signal_thread

from fsreplica.cli._common import on_termination

WAIT = 10.0


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.usefixtures("restore_handlers")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_callback_runs_outside_the_interrupted_thread(sig: signal.Signals) -> None:
    # The signal arrives while the main thread holds a lock the callback needs, as when it is
    # taking events from the channel. Run inside the handler, the callback would wait for a lock
    # its own thread holds; it must run in a thread of its own and finish once the lock is free.
    lock = threading.Lock()
    ran_in: list[str] = []
    done = threading.Event()

    def callback() -> None:
        if lock.acquire(timeout=WAIT):
            lock.release()
            ran_in.append(threading.current_thread().name)
        done.set()

    on_termination(callback)
    with lock:
        os.kill(os.getpid(), sig)
        # Python runs the handler at the next bytecode boundary of this thread, lock held.
        for _ in range(1000):
            pass
    assert done.wait(WAIT)
    assert ran_in == ["fsreplica-stop"]
    for thread in threading.enumerate():
        if thread.name == "fsreplica-stop":
            thread.join(WAIT)


CHILD = """
import sys, threading, time
from fsreplica.cli._common import on_termination
on_termination(lambda: time.sleep(60))  # a stop that hangs
print("ready", flush=True)
threading.Event().wait(60)
"""


def test_a_second_signal_exits_at_once() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
            proc.send_signal(signal.SIGINT)
            # The first signal starts the (hanging) stop; the process must still be running.
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(0.2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGINT
    assert err == "fsreplica: interrupted again, exiting now\n"


ASLEEP = """
import sys, threading
from fsreplica.cli._common import on_termination
stopped = threading.Event()
on_termination(stopped.set)
other = threading.Thread(target=threading.Event().wait, daemon=True)
other.start()
print(other.native_id, flush=True)
stopped.wait()  # no timeout: the main thread runs no bytecode until it is woken
print("stopped", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_received_by_another_thread_is_heard(sig: signal.Signals) -> None:
    # The kernel may hand a signal sent to the process to any thread (it did, to a daemon's
    # worker, while the main thread blocked signals); Python would run the handler only when the
    # main thread next runs bytecode, and a main thread asleep never does.
    with subprocess.Popen(
        [sys.executable, "-c", ASLEEP], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            tid = int(proc.stdout.readline())
            signal_thread(proc.pid, tid, sig)
            out, err = proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out, err) == (0, "stopped\n", "")


def test_the_relay_keeps_the_wakeup_fd(tmp_path: Path) -> None:
    # Another handler's wakeup fd (an event loop's) replaced it: registering again takes it back.
    script = tmp_path / "child.py"
    script.write_text(
        "import os, signal, threading\n"
        "from fsreplica.cli._common import on_termination\n"
        "on_termination(lambda: None)\n"
        "r, w = os.pipe(); os.set_blocking(w, False)\n"
        "signal.set_wakeup_fd(w)\n"
        "stopped = threading.Event()\n"
        "on_termination(stopped.set)\n"
        "other = threading.Thread(target=threading.Event().wait, daemon=True)\n"
        "other.start()\n"
        "print(other.native_id, flush=True)\n"
        "stopped.wait()\n"
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            signal_thread(proc.pid, int(proc.stdout.readline()), signal.SIGTERM)
            proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
