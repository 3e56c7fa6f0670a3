"""The API's CLI clients (`policy`, `trigger`, `status`) with a real daemon, and without one."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from api_daemon import DEADLINE, RunningDaemon, running, short_dir

EXIT_NO_DAEMON = 69


def fsreplica(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fsreplica", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
        check=False,
    )


class TestPolicyCommand:
    """`fsreplica policy list|show|add|remove|enable|disable`."""

    def test_add_disable_enable_remove_edit_the_config_file(self, daemon: RunningDaemon) -> None:
        source = daemon.root / "photos"
        source.mkdir()
        (source / "a.jpg").write_text("jpeg")
        added = daemon.cli(
            "policy", "add", "photos", source, daemon.root / "photos-copy",
            "--exclude", "*.tmp", "--transfers", "2", "--scan-interval", "15m", "--json",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        policy = json.loads(added.stdout)
        assert (policy["id"], policy["exclude"], policy["transfers"]) == ("photos", ["*.tmp"], 2)
        assert policy["scan_interval"] == 900.0
        assert added.stderr == "fsreplica: policy photos added\n"

        def config() -> str:
            assert stat.S_IMODE(os.stat(daemon.config).st_mode) == 0o600
            return daemon.config.read_text()

        assert 'id = "photos"' in config()
        assert "# fsreplica daemon config" in config()
        assert "# its id" in config()

        disabled = daemon.cli("policy", "disable", "photos")
        assert disabled.returncode == 0, disabled.stderr
        assert disabled.stderr == "fsreplica: policy photos disabled\n"
        assert "enabled = false" in config()
        shown = json.loads(daemon.cli("policy", "show", "photos", "--json").stdout)
        assert shown["enabled"] is False

        enabled = daemon.cli("policy", "enable", "photos")
        assert enabled.returncode == 0, enabled.stderr
        assert json.loads(daemon.cli("policy", "show", "photos", "--json").stdout)["enabled"]

        removed = daemon.cli("policy", "remove", "photos")
        assert removed.returncode == 0, removed.stderr
        assert 'id = "photos"' not in config()
        assert "# its id" in config()

    def test_list_and_show(self, daemon: RunningDaemon) -> None:
        listed = daemon.cli("policy", "list")
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        assert header.split() == ["ID", "ENABLED", "STATE", "SOURCE", "DESTINATION"]
        assert row.split()[0:2] == ["docs", "yes"]
        assert row.split()[3:] == [str(daemon.src), str(daemon.dst)]
        as_json = json.loads(daemon.cli("policy", "list", "--json").stdout)
        assert [policy["id"] for policy in as_json] == ["docs"]
        shown = daemon.cli("policy", "show", "docs")
        assert f"source: {daemon.src}\n" in shown.stdout
        assert "enabled: yes\n" in shown.stdout

    def test_refusals_are_one_line_and_exit_2(self, daemon: RunningDaemon) -> None:
        unknown = daemon.cli("policy", "show", "nope")
        assert (unknown.returncode, unknown.stdout) == (2, "")
        assert unknown.stderr.startswith("fsreplica: ")
        assert unknown.stderr.count("\n") == 1
        assert "nope" in unknown.stderr
        twice = daemon.cli("policy", "add", "docs", daemon.src, daemon.root / "elsewhere")
        assert twice.returncode == 2
        assert twice.stderr.count("\n") == 1
        assert "docs" in twice.stderr
        bad = daemon.cli("policy", "add", "Bad", daemon.src, daemon.root / "elsewhere")
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1


class TestTriggerAndStatus:
    """`fsreplica trigger [ID] [--wait]` and `fsreplica status [ID] [--json]`."""

    def test_trigger_wait_returns_the_job_result(self, daemon: RunningDaemon) -> None:
        (daemon.src / "new.txt").write_text("new")
        result = daemon.cli("trigger", "docs", "--wait", "--json")
        assert result.returncode == 0, result.stderr
        job = json.loads(result.stdout)
        assert (job["policy"], job["state"]) == ("docs", "done")
        assert job["result"]
        assert (daemon.dst / "new.txt").read_text() == "new"
        text = daemon.cli("trigger", "--wait")
        assert text.returncode == 0, text.stderr
        assert text.stdout.startswith("docs: job ")
        assert " done" in text.stdout

    def test_trigger_an_unknown_policy(self, daemon: RunningDaemon) -> None:
        result = daemon.cli("trigger", "nope")
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1

    def test_status_json_and_table(self, daemon: RunningDaemon) -> None:
        as_json = daemon.cli("status", "--json")
        assert as_json.returncode == 0, as_json.stderr
        status = json.loads(as_json.stdout)
        assert [policy["id"] for policy in status["policies"]] == ["docs"]
        assert status["config"] == str(daemon.config)
        one = json.loads(daemon.cli("status", "docs", "--json").stdout)
        assert one["id"] == "docs"
        table = daemon.cli("status")
        assert table.returncode == 0, table.stderr
        assert "POLICY" in table.stdout
        assert "\ndocs " in table.stdout
        unknown = daemon.cli("status", "nope")
        assert unknown.returncode == 2

    def test_status_finds_the_daemon_on_the_default_socket(self, daemon: RunningDaemon) -> None:
        found = fsreplica("status", "--json", env=daemon.env)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["policies"][0]["id"] == "docs"


class TestNoDaemon:
    """Nothing answers on the socket: one line naming it, exit 69."""

    def test_each_client_says_so_in_one_line(self, tmp_path: Path) -> None:
        with short_dir() as run:
            socket = str(run / "fsreplica.sock")
            for args in (
                ("policy", "list"),
                ("policy", "show", "docs"),
                ("policy", "add", "x", tmp_path, tmp_path / "d"),
                ("policy", "disable", "docs"),
                ("trigger",),
                ("trigger", "docs", "--wait"),
                ("status", "docs"),
                ("status",),
            ):
                result = fsreplica(*args, "--socket", socket)
                assert result.returncode == EXIT_NO_DAEMON, (args, result.stderr)
                assert result.stderr == (
                    f"fsreplica: no daemon at {socket}: start it with 'fsreplica daemon'\n"
                ), args
                assert result.stdout == ""

    def test_a_dead_daemon_socket_is_no_daemon(self, tmp_path: Path) -> None:
        with running(tmp_path) as daemon:
            socket = daemon.socket
        # Stopped: its socket is gone; a stale one left by a SIGKILL is the same to a client.
        result = fsreplica("policy", "list", "--socket", socket)
        assert result.returncode == EXIT_NO_DAEMON
        assert "no daemon at" in result.stderr

    def test_status_without_a_daemon_reads_the_state_files(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        src.mkdir()
        (src / "a.txt").write_text("a")
        with short_dir() as run:
            env = {
                **os.environ,
                "XDG_STATE_HOME": str(tmp_path / "xdg"),
                "XDG_RUNTIME_DIR": str(run),
            }
            assert fsreplica("sync", src, dst, env=env).returncode == 0
            result = fsreplica("status", "--json", env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["source"] == str(src)

    def test_help_documents_the_exit_codes(self) -> None:
        for command in ("policy", "trigger", "status"):
            result = fsreplica(command, "--help")
            assert result.returncode == 0
            assert "69  no daemon answers" in result.stdout, command
