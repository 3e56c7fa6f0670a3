"""A daemon process's Prometheus metrics, scraped over TCP: per policy, moving with the writes."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

from daemon_helpers import DaemonProcess, daemon_environ, policy_table, tree, wait_for
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200
    finally:
        conn.close()
    found = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def sample(port: int, name: str, **labels: str) -> float | None:
    return scrape(port).get((name, tuple(sorted(labels.items()))))


def test_scraped_over_tcp_labelled_per_policy(tmp_path: Path) -> None:
    port = free_port()
    sources = {name: tmp_path / f"src-{name}" for name in ("docs", "photos")}
    for src in sources.values():
        src.mkdir()
    (sources["docs"] / "first.txt").write_text("first")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[daemon]\nmetrics = "127.0.0.1:{port}"\n\n'
        + policy_table("docs", sources["docs"], tmp_path / "dst-docs", debounce=0.05)
        + policy_table("photos", sources["photos"], tmp_path / "dst-photos", debounce=0.05)
    )
    with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
        daemon.wait_started()
        wait_for(
            lambda: (
                sample(port, "fsreplica_policy_state", policy="docs", state="live") == 1
                and sample(port, "fsreplica_policy_state", policy="photos", state="live") == 1
            ),
            "both policies live in the metrics",
        )
        files = "fsreplica_replicated_files_total"
        assert sample(port, files, policy="docs", op="put") == 1  # the first reconcile
        assert sample(port, files, policy="photos", op="put") == 0
        assert sample(port, "fsreplica_destination_up", policy="photos") == 1
        assert sample(port, "fsreplica_ready") == 1
        assert (sample(port, "fsreplica_inotify_watches") or 0) >= 2

        (sources["photos"] / "cat.jpg").write_bytes(b"x" * 1000)
        wait_for(lambda: tree(tmp_path / "dst-photos") == {"cat.jpg": b"x" * 1000}, "the copy")
        wait_for(lambda: sample(port, files, policy="photos", op="put") == 1, "the counter")
        found = scrape(port)
        assert (
            found[("fsreplica_replicated_bytes_total", (("op", "put"), ("policy", "photos")))]
            == 1000
        )
        lag = found[("fsreplica_replication_lag_seconds_count", (("policy", "photos"),))]
        assert lag == 1
        assert found[(files, (("op", "put"), ("policy", "docs")))] == 1  # untouched
        reconciles = ("fsreplica_reconcile_duration_seconds_count", (("policy", "docs"),))
        assert found[reconciles] >= 1
        assert daemon.terminate() == 0
