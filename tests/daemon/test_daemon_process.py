"""`fsreplica daemon` as a real process: its policies, its signals, its config errors."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_helpers import (
    DEADLINE,
    DaemonProcess,
    bucket_tree,
    daemon_environ,
    policy_table,
    tree,
    wait_for,
)
from tests.threadsignal import other_threads, signal_thread

from servers import motoserver


def run_daemon(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fsreplica", "daemon", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
        check=False,
    )


def write_files(root: Path, prefix: str, count: int) -> dict[str, bytes]:
    """A writer: `count` files under `root`, some in subdirectories."""
    written = {}
    for n in range(count):
        rel = f"{prefix}{n}.txt" if n % 3 else f"sub{n % 2}/{prefix}{n}.txt"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"{prefix} {n} {random.random()}".encode()
        path.write_bytes(data)
        written[rel] = data
    return written


class TestStartAndStop:
    """One line on start; SIGTERM and SIGINT stop it cleanly with exit 0."""

    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_signal_stops_cleanly(self, tmp_path: Path, signum: int) -> None:
        src = tmp_path / "src"
        src.mkdir()
        (src / "a.txt").write_text("a")
        config = tmp_path / "config.toml"
        config.write_text(policy_table("one", src, tmp_path / "dst"))
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            wait_for(lambda: tree(tmp_path / "dst") == {"a.txt": b"a"}, "the first copy")
            daemon.signal(signum)
            assert daemon.proc.wait(DEADLINE) == 0
        started = [line for line in daemon.output().splitlines() if "daemon started" in line]
        assert started == [
            f"fsreplica: daemon started: 1 of 1 policies enabled, from {config}; "
            f"API on {tmp_path}/xdg/runtime/fsreplica/fsreplica.sock"
        ]
        assert "Traceback" not in daemon.output()

    def test_signals_received_by_a_worker_thread_are_heard(self, tmp_path: Path) -> None:
        # The kernel may hand a signal sent to the daemon to any of its threads (it did, while
        # the main thread blocked signals); the main thread, asleep until told to stop, must
        # still hear of it: SIGHUP reloads, SIGTERM stops with exit 0.
        src = tmp_path / "src"
        src.mkdir()
        config = tmp_path / "config.toml"
        config.write_text(policy_table("one", src, tmp_path / "dst"))
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            pid = daemon.proc.pid
            signal_thread(pid, other_threads(pid)[-1], signal.SIGHUP)
            wait_for(lambda: "reloaded" in daemon.output(), "the reload line")
            signal_thread(pid, other_threads(pid)[0], signal.SIGTERM)
            assert daemon.proc.wait(DEADLINE) == 0
        assert f"fsreplica: reloaded {config}: no change" in daemon.output().splitlines()

    def test_missing_config_says_how_to_create_one(self, tmp_path: Path) -> None:
        env = daemon_environ(tmp_path)
        result = subprocess.run(
            [sys.executable, "-m", "fsreplica", "daemon"],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env=env,
            check=False,
        )
        default = Path(env["XDG_CONFIG_HOME"]) / "fsreplica" / "config.toml"
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"fsreplica: {default}: no such config file: create it with a [[policy]] table for "
            "each SRC/DEST pair (id, source, destination; see 'fsreplica daemon --help')"
        ]

    def test_bad_config_is_one_line(self, tmp_path: Path) -> None:
        config = tmp_path / "config.toml"
        config.write_text(
            '# mine\n[[policy]]\nid = "a"\nsource = "/s"\ndestination = "/d"\nspeed = 3\n'
        )
        result = run_daemon(config, daemon_environ(tmp_path))
        assert result.returncode == 2
        assert result.stderr.splitlines() == [f"fsreplica: {config}:6: unknown field 'speed'"]


class TestPolicies:
    """Many policies in one process, each converging under its own writer."""

    def test_three_policies_two_local_one_on_moto(
        self, tmp_path: Path, moto_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = moto_bucket
        sources = [tmp_path / f"src{n}" for n in range(3)]
        for src in sources:
            src.mkdir()
        config = tmp_path / "config.toml"
        config.write_text(
            "# three at once\n"
            + policy_table("local-a", sources[0], tmp_path / "dst0", debounce=0.05)
            + "\n"
            + policy_table("local-b", sources[1], tmp_path / "dst1", debounce=0.05)
            + "\n"
            + policy_table(
                "moto", sources[2], f"s3://{bucket}/p", endpoint_url=endpoint, debounce=0.05
            )
        )
        before = write_files(sources[2], "early", 4)  # found by the first reconcile
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            wanted = [write_files(src, f"w{n}-", 12) for n, src in enumerate(sources)]
            wanted[2].update(before)
            wait_for(lambda: tree(tmp_path / "dst0") == wanted[0], "local-a to converge")
            wait_for(lambda: tree(tmp_path / "dst1") == wanted[1], "local-b to converge")
            wait_for(lambda: bucket_tree(endpoint, bucket, "p") == wanted[2], "moto to converge")
            (sources[0] / "w0-1.txt").unlink()
            del wanted[0]["w0-1.txt"]
            wait_for(lambda: tree(tmp_path / "dst0") == wanted[0], "a delete")
            assert daemon.terminate() == 0
        assert "policy moto: put early1.txt" in daemon.output()

    def test_a_destination_down_never_stalls_the_others(
        self, tmp_path: Path, moto_bucket: tuple[str, str]
    ) -> None:
        endpoint, bucket = moto_bucket
        s3_src, local_src = tmp_path / "s3src", tmp_path / "localsrc"
        s3_src.mkdir()
        local_src.mkdir()
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table("moto", s3_src, f"s3://{bucket}/p", endpoint_url=endpoint, debounce=0.05)
            + policy_table("local", local_src, tmp_path / "dst", debounce=0.05)
        )
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            (s3_src / "before.txt").write_text("before")
            wait_for(lambda: "before.txt" in bucket_tree(endpoint, bucket, "p"), "the first put")
            with motoserver.outage():
                (s3_src / "during.txt").write_text("waits")
                wait_for(lambda: "unavailable" in daemon.output(), "the outage to be logged")
                wanted = write_files(local_src, "local", 10)
                wait_for(lambda: tree(tmp_path / "dst") == wanted, "local to go on")
            wait_for(lambda: "during.txt" in bucket_tree(endpoint, bucket, "p"), "moto after")
            assert daemon.terminate() == 0
        assert "policy moto: destination s3://" in daemon.output()


class TestReload:
    """SIGHUP re-reads the file edited by hand: only the policies that changed are touched."""

    def test_add_remove_change(self, tmp_path: Path) -> None:
        for name in ("s1", "s2", "s3"):
            (tmp_path / name).mkdir()
            (tmp_path / name / f"{name}.txt").write_text(name)
        config = tmp_path / "config.toml"
        text = (
            "# kept: the user's comment\n"
            + policy_table("one", tmp_path / "s1", tmp_path / "d1")
            + "\n# about two\n"
            + policy_table("two", tmp_path / "s2", tmp_path / "d2")
        )
        config.write_text(text)
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            wait_for(lambda: tree(tmp_path / "d2") == {"s2.txt": b"s2"}, "two's first copy")
            text = (
                "# kept: the user's comment\n"
                + policy_table("two", tmp_path / "s2", tmp_path / "d2", exclude=["*.tmp"])
                + "\n"
                + policy_table("three", tmp_path / "s3", tmp_path / "d3")
            )
            config.write_text(text)
            line = daemon.reload()
            assert line == f"fsreplica: reloaded {config}: added three; removed one; changed two"
            wait_for(lambda: tree(tmp_path / "d3") == {"s3.txt": b"s3"}, "three's first copy")
            (tmp_path / "s1" / "late.txt").write_text("not replicated: one is gone")
            (tmp_path / "s2" / "x.tmp").write_text("excluded now")
            (tmp_path / "s2" / "y.txt").write_text("y")
            wait_for(lambda: "y.txt" in tree(tmp_path / "d2"), "two to go on")
            assert "x.tmp" not in tree(tmp_path / "d2")
            assert "late.txt" not in tree(tmp_path / "d1")
            assert daemon.reload() == f"fsreplica: reloaded {config}: no change"
            assert config.read_text() == text  # a reload never writes the file
            config.write_text(text + "oops = \n")
            assert daemon.reload() == (
                f"fsreplica: reload: {config}:12: not valid TOML: invalid value; "
                "the running policies are unchanged"
            )
            assert daemon.terminate() == 0


class TestCrash:
    """SIGKILL at a random moment, then a restart: every policy converges."""

    def test_kill_and_restart(self, tmp_path: Path) -> None:
        sources = [tmp_path / f"src{n}" for n in range(2)]
        config = tmp_path / "config.toml"
        config.write_text(
            "\n".join(
                policy_table(f"p{n}", src, tmp_path / f"dst{n}", debounce=0.05)
                for n, src in enumerate(sources)
            )
        )
        wanted: list[dict[str, bytes]] = []
        for n, src in enumerate(sources):
            src.mkdir()
            wanted.append(write_files(src, f"before{n}-", 30))
        env = daemon_environ(tmp_path)
        with DaemonProcess(tmp_path, config, env=env) as daemon:
            daemon.wait_started()
            for n, src in enumerate(sources):
                wanted[n].update(write_files(src, f"during{n}-", 30))
            time.sleep(random.uniform(0, 0.5))  # a random moment, not a synchronisation
            daemon.kill()
        for n, src in enumerate(sources):
            wanted[n].update(write_files(src, f"after{n}-", 5))
        with DaemonProcess(tmp_path, config, env=env) as daemon:
            daemon.wait_started()
            for n in range(len(sources)):
                wait_for(lambda n=n: tree(tmp_path / f"dst{n}") == wanted[n], f"p{n} to converge")
            assert daemon.terminate() == 0
