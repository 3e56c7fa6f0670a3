"""Send a signal to one thread of another process (the kernel's tgkill)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal


def signal_thread(pid: int, tid: int, sig: signal.Signals) -> None:
    """Deliver `sig` to thread `tid` of process `pid`, not to whichever thread the kernel picks."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.tgkill(pid, tid, int(sig)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"tgkill {pid} {tid}: {os.strerror(errno)}")


def other_threads(pid: int) -> list[int]:
    """The ids of the threads of `pid` but its main thread."""
    return sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
