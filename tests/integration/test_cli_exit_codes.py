"""Exit codes and one-line usage errors of every command, through real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEADLINE = 20.0
COMMANDS = {
    "watch": ["0", "1", "2", "70"],
    "sync": ["0", "1", "2", "70", "130", "143"],
    "replicate": ["0", "2", "3", "70"],
    "verify": ["0", "1", "2", "70"],
    "status": ["0", "1", "2", "69", "70"],
    "daemon": ["0", "2", "70"],
    "policy": ["0", "2", "69", "70"],
    "trigger": ["0", "1", "2", "69", "70"],
}


def fsreplica(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fsreplica", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lists_its_exit_codes(command: str) -> None:
    result = fsreplica(command, "--help")
    assert result.returncode == 0
    section = result.stdout.split("exit status:", 1)[1]
    codes = [line.split()[0] for line in section.splitlines() if line[:3].strip().isdigit()]
    assert codes == COMMANDS[command]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sync_says_so_and_exits_128_plus_the_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    block = os.urandom(64 * 1024)
    for i in range(3000):  # each copied alone and flushed: seconds of work
        (src / f"f{i:04d}.bin").write_bytes(block)
    argv = [sys.executable, "-m", "fsreplica", "sync", "--transfers", "1", src, dst]
    argv += ["--state", tmp_path / "state.db"]
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        try:
            end = time.monotonic() + DEADLINE
            while not (dst.is_dir() and any(p.suffix == ".bin" for p in dst.iterdir())):
                assert proc.poll() is None, "sync ended before it was interrupted"
                assert time.monotonic() < end, "sync never started copying"
                time.sleep(0.01)
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=DEADLINE)
        finally:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert f"fsreplica: interrupted by {signum.name}: " in err
    assert len(list(dst.glob("*.bin"))) < 3000


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--debounce", "-1"),
        ("--debounce", "nan"),
        ("--transfers", "0"),
        ("--max-delete", "-2"),
    ],
)
def test_bad_numbers_are_refused_by_the_subcommand(tmp_path: Path, option: str, value: str) -> None:
    (tmp_path / "src").mkdir()
    result = fsreplica("sync", option, value, tmp_path / "src", tmp_path / "dst")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: fsreplica sync ")
    assert f"fsreplica sync: error: argument {option}: " in result.stderr
    assert not (tmp_path / "dst").exists()


def test_scan_interval_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    result = fsreplica("replicate", "--scan-interval", "0", tmp_path / "src", tmp_path / "dst")
    assert result.returncode == 2
    assert "fsreplica replicate: error: argument --scan-interval: " in result.stderr


def test_a_misspelt_option_shows_the_subcommand_usage(tmp_path: Path) -> None:
    result = fsreplica("sync", "--dry-rnu", tmp_path, tmp_path / "dst")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: fsreplica sync ")
    assert result.stderr.rstrip().endswith(
        "fsreplica sync: error: unrecognized arguments: --dry-rnu"
    )


@pytest.mark.parametrize("command", ["sync", "verify"])
def test_a_missing_source_is_said_to_be_missing(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing"
    result = fsreplica(command, missing, tmp_path / "dst")
    assert result.returncode == 2
    assert result.stderr == f"fsreplica: {missing}: no such file or directory\n"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = fsreplica(command, a_file, tmp_path / "dst")
    assert result.stderr == f"fsreplica: {a_file}: not a directory\n"


def test_one_difference_is_one_difference(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "a.txt").write_text("a")
    result = fsreplica("verify", src, dst)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "fsreplica: 1 difference"
