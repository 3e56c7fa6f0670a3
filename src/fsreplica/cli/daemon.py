"""`fsreplica daemon`: run every policy of a config file, in the foreground, until stopped."""

from __future__ import annotations

import argparse
import importlib.util
import os
import queue
import signal
import sys
from typing import Any

from fsreplica.cli import _signals
from fsreplica.cli._common import EXIT_OK, EXIT_USAGE, add_common_options, exit_epilog
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.cli._replication import fail
from fsreplica.daemon.paths import default_config_path
from fsreplica.errors import ConfigError, ControlError, FsreplicaError

EPILOG = exit_epilog(
    ("0", "stopped by SIGINT or SIGTERM, in-flight copies finished"),
    (
        "2",
        "the config file is missing or wrong (one line PATH:LINE: reason), or its socket or "
        "metrics address cannot be used",
    ),
)

DESCRIPTION = """\
Run every enabled policy of the config file (TOML: a [daemon] table and one [[policy]] table
per SRC/DEST pair), each replicating in real time, until SIGINT or SIGTERM. SIGHUP re-reads the
file and applies the difference: added, removed and changed policies start, stop and restart;
the others go on undisturbed. A policy that fails (its destination refuses it, its state file is
in use) is shown failed by `fsreplica status`; the others go on.

A minimal config file:

  [[policy]]
  id = "docs"
  source = "/srv/docs"
  destination = "s3://backup/docs"
"""


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="run every policy of a config file (the replication daemon)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the config file (default: $XDG_CONFIG_HOME/fsreplica/config.toml)",
    )
    parser.add_argument(
        "--print-systemd-unit",
        nargs="?",
        const="system",
        choices=("system", "user"),
        metavar="system|user",
        help="print a systemd unit file that runs this fsreplica as a service (system by "
        "default, or user) and exit; see docs/daemon.md",
    )
    add_common_options(parser)


class _Services:
    """The listeners beside the policies: the control API and the metrics, when available."""

    def __init__(self) -> None:
        self.metrics: Any = None
        self.metrics_server: Any = None
        self.api: Any = None

    def start(self, manager: Any) -> None:
        settings = manager.settings
        have_prometheus = importlib.util.find_spec("prometheus_client") is not None
        if have_prometheus and importlib.util.find_spec("fsreplica.daemon.metrics") is not None:
            from fsreplica.daemon.metrics import DaemonMetrics  # noqa: PLC0415 - optional

            self.metrics = DaemonMetrics(manager)
            self.metrics.start()
        if settings.metrics is not None:
            if self.metrics is None:
                raise ImportError(
                    "metrics: needs prometheus_client: pip install 'fsreplica[daemon]'"
                )
            from fsreplica.daemon.metrics_server import MetricsServer  # noqa: PLC0415

            self.metrics_server = MetricsServer(settings.metrics, self.metrics.render)
            self.metrics_server.start()
        if importlib.util.find_spec("fsreplica.daemon.server") is not None:
            from fsreplica.daemon.server import ApiServer  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

            options: dict[str, Any] = {"metrics": self.metrics} if self.metrics else {}
            self.api = ApiServer(
                manager,
                socket=settings.socket,
                tcp=settings.api,
                token_file=settings.token_file,
                **options,
            )
            self.api.start()

    def stop_listening(self) -> None:
        """Stop the API and the metrics listener (before the policies stop)."""
        for service in (self.api, self.metrics_server):
            if service is not None:
                service.stop()

    def stop(self) -> None:
        """Stop the metrics' event thread (once the event log is closed)."""
        if self.metrics is not None:
            self.metrics.stop()


def run(args: argparse.Namespace) -> int:
    """Run the policies until SIGINT/SIGTERM, then finish in-flight copies and exit 0."""
    from fsreplica.daemon.manager import Manager  # noqa: PLC0415 - after the options are read
    from fsreplica.daemon.systemd import SystemdNotifier, unit_text  # noqa: PLC0415

    if args.print_systemd_unit:
        config = os.path.abspath(args.config) if args.config else None
        print(unit_text(args.print_systemd_unit, config=config), end="")
        return EXIT_OK
    path = args.config or default_config_path()
    try:
        manager = Manager(path)
    except FileNotFoundError:
        fail(
            f"{path}: no such config file: create it with a [[policy]] table for each SRC/DEST "
            "pair (id, source, destination; see 'fsreplica daemon --help')"
        )
        return EXIT_USAGE
    except ConfigError as exc:
        fail(exc)
        return EXIT_USAGE
    wake: queue.SimpleQueue[str] = queue.SimpleQueue()
    services = _Services()
    notifier = SystemdNotifier(manager)
    with manager:
        _on_termination(lambda: wake.put("stop"))
        _signals.handle(signal.SIGHUP, lambda signum: wake.put("reload"))
        # Listen first: a daemon refused its socket (another one answers there) must not have
        # started replicating, nor taken a destination's lease.
        try:
            services.start(manager)
        except (ImportError, ValueError, OSError, FsreplicaError) as exc:
            fail(exc)
            services.stop_listening()
            manager.close()
            services.stop()
            return EXIT_USAGE
        manager.start()
        policies = manager.policies()
        enabled = sum(1 for policy in policies if policy.enabled)
        listening = f"; API on {manager.settings.socket}" if services.api is not None else ""
        print(
            f"fsreplica: daemon started: {enabled} of {len(policies)} policies enabled, from "
            f"{path}{listening}",
            file=sys.stderr,
            flush=True,
        )
        notifier.start()  # READY=1 once every policy is live (with NOTIFY_SOCKET only)
        while wake.get() != "stop":
            notifier.reloading()
            _reload(manager, path)
            notifier.update()
        notifier.stopping()
        services.stop_listening()
        manager.close()
        services.stop()
        notifier.stop()
    return EXIT_OK


def _reload(manager: Any, path: str) -> None:
    """Re-read the config file and say what changed, in one line."""
    try:
        diff = manager.reload()
    except ControlError as exc:
        fail(f"reload: {exc.reason}; the running policies are unchanged")
        return
    parts = [f"{kind} {', '.join(ids)}" for kind, ids in diff.items() if ids]
    print(
        f"fsreplica: reloaded {path}: {'; '.join(parts) if parts else 'no change'}",
        file=sys.stderr,
        flush=True,
    )
