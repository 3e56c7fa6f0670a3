"""systemd integration: readiness, status lines and the watchdog (sd_notify), and the unit files.

`sd_notify` is a datagram to the AF_UNIX socket named by `NOTIFY_SOCKET` (a path, or an
abstract name written with a leading '@'); written here with the standard library (no
libsystemd). Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing.

`SystemdNotifier` follows the daemon through its `Control`:
- `READY=1` once `status().ready` (every enabled policy has finished its first reconcile and is
  live; or waits in "standby" while another host holds its destination), and again after each
  reload;
- `STATUS=` one line that changes with the policies' states (`3 policies: 2 live, 1
  destination-down (photos)`), which `systemctl status` shows;
- `WATCHDOG=1` every half of `WATCHDOG_USEC` when the unit sets `WatchdogSec=`, each only after
  `status()` answered: a daemon whose control is stuck is restarted by systemd;
- `RELOADING=1` (with `MONOTONIC_USEC`) and `STOPPING=1` when told.

It wakes only for the daemon's events that change a state (a long poll of `Control.events`) and
for the watchdog when systemd asks for one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsreplica.daemon.control import Control, DaemonStatus

log = logging.getLogger(__name__)

EVENT_POLL = 300.0
"""Seconds one long poll of the event stream waits before asking again."""

_STATE_EVENTS = frozenset(
    {"state", "reconciled", "policy-added", "policy-removed", "policy-changed"}
)

_SETTLED = frozenset({"live", "standby", "disabled"})

UNITS = {"system": "fsreplica.service", "user": "fsreplica.user.service"}
"""The unit files shipped in this package, by kind."""


def notify(message: str, *, environ: dict[str, str] | None = None) -> bool:
    """Send `message` (`KEY=VALUE` lines) to systemd's notification socket.

    Returns:
        True if sent; False when there is no `NOTIFY_SOCKET` or the send failed (logged once at
        debug level: the daemon goes on without systemd).
    """
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.debug("sd_notify to %s failed: %s", address, exc)
        return False
    return True


def watchdog_interval(*, environ: dict[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of `WATCHDOG_USEC`), or None when not asked for.

    `WATCHDOG_PID`, when set, must be this process (systemd sets it for the main process).
    """
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2e6


def status_line(status: DaemonStatus) -> str:
    """One line on the policies' states: `3 policies: 2 live, 1 destination-down (photos)`."""
    policies = status.policies
    if not policies:
        return "no policies"
    counts = Counter(p.state for p in policies)
    parts = []
    for state, n in sorted(counts.items(), key=lambda item: (item[0] != "live", item[0])):
        names = [p.id for p in policies if p.state == state]
        shown = "" if state in ("live", "disabled") else f" ({', '.join(names[:3])}"
        if shown:
            shown += ", ...)" if len(names) > 3 else ")"
        parts.append(f"{n} {state}{shown}")
    noun = "policy" if len(policies) == 1 else "policies"
    return f"{len(policies)} {noun}: {', '.join(parts)}"


class SystemdNotifier:
    """Tells systemd how the daemon is doing (see the module docstring).

    Args:
        control: The daemon.
        environ: The environment to read `NOTIFY_SOCKET` and `WATCHDOG_*` from.
    """

    def __init__(self, control: Control, *, environ: dict[str, str] | None = None) -> None:
        self.control = control
        self._env = dict(os.environ if environ is None else environ)
        self.enabled = bool(self._env.get("NOTIFY_SOCKET"))
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready_sent = False
        self._last_status: str | None = None
        self._threads: list[threading.Thread] = []

    def _send(self, message: str) -> bool:
        return notify(message, environ=self._env)

    def start(self) -> None:
        """Start following the daemon (nothing when not run by systemd)."""
        if not self.enabled or self._threads:
            return
        self._threads.append(
            threading.Thread(target=self._follow, name="fsreplica-systemd", daemon=True)
        )
        interval = watchdog_interval(environ=self._env)
        if interval is not None:
            self._threads.append(
                threading.Thread(
                    target=self._watchdog,
                    args=(interval,),
                    name="fsreplica-systemd-watchdog",
                    daemon=True,
                )
            )
        for thread in self._threads:
            thread.start()

    def update(self) -> None:
        """Send READY=1 (once ready, first time) and STATUS= (when it changed)."""
        status = self.control.status()
        line = status_line(status)
        # A policy in standby (another host holds its destination) is as started as it gets.
        settled = status.ready or all(p.state in _SETTLED for p in status.policies)
        with self._lock:
            ready = settled and not self._ready_sent
            changed = line != self._last_status
            self._ready_sent = self._ready_sent or settled
            self._last_status = line
        if ready:
            self._send(f"READY=1\nSTATUS={line}")
        elif changed:
            self._send(f"STATUS={line}")

    def reloading(self) -> None:
        """Tell systemd a reload began (READY=1 follows once the daemon is ready again)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        with self._lock:
            self._ready_sent = False
        self._send(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading the config")

    def stopping(self) -> None:
        """Tell systemd the daemon is stopping, and stop following it."""
        self._stopping.set()
        self._send("STOPPING=1\nSTATUS=stopping")

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop the threads; idempotent.

        The follower is in a long poll that the daemon ends when it stops; one still waiting
        after `timeout` dies with the process (a daemon thread holding nothing).
        """
        self._stopping.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _follow(self) -> None:
        since = 0
        try:
            self.update()
        except Exception as exc:
            log.debug("systemd: status failed: %s", exc)
        while not self._stopping.is_set():
            try:
                asked = time.monotonic()
                page = self.control.events(since, timeout=EVENT_POLL)
                since = max(since, page.next)
                if not page.events and time.monotonic() - asked < EVENT_POLL / 2:
                    self._stopping.wait(1.0)  # ended early with nothing: the daemon is closing
                if self._stopping.is_set():
                    return
                if any(event.kind in _STATE_EVENTS for event in page.events):
                    self.update()
            except Exception as exc:  # the daemon is stopping, or a bug: never kill it
                if not self._stopping.is_set():
                    log.warning("systemd: following the daemon failed: %s", exc)
                    self._stopping.wait(1.0)

    def _watchdog(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.control.status()  # a daemon whose control is stuck gets no ping
            except Exception as exc:
                log.warning("systemd watchdog: status failed: %s", exc)
                continue
            self._send("WATCHDOG=1")


def unit_text(
    kind: str = "system", *, command: str | None = None, config: str | None = None
) -> str:
    """The unit file of `kind` ("system" or "user"), starting `command` (this fsreplica).

    Args:
        kind: "system" for /etc/systemd/system, "user" for ~/.config/systemd/user.
        command: What `ExecStart=` runs before `daemon`; default: this Python running
            `-m fsreplica`, so the unit starts the fsreplica that printed it.
        config: A config file for `--config` (absolute); default: the unit's default one.

    Raises:
        ValueError: An unknown kind.
    """
    try:
        name = UNITS[kind]
    except KeyError:
        raise ValueError(f"unit kind must be system or user: {kind!r}") from None
    text = resources.files("fsreplica.daemon").joinpath(name).read_text(encoding="utf-8")
    if command is None:
        import sys  # noqa: PLC0415 - only here

        command = f"{sys.executable} -m fsreplica"
    text = text.replace("/usr/local/bin/fsreplica", command)
    if config is not None:
        quoted = f'"{config}"' if any(c.isspace() for c in config) else config
        text = text.replace(f"{command} daemon\n", f"{command} daemon --config {quoted}\n", 1)
    return text
