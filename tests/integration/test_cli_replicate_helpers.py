"""Helpers for the CLI tests (no tests here): run fsreplica as a process, wait on conditions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DEADLINE = 15.0


# `fsreplica` as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv, util-linux): it
# cannot read what the file modes forbid, as an ordinary user could not.
WITHOUT_READ_OVERRIDE = (
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
    sys.executable,
    "-m",
    "fsreplica",
)


def fsreplica(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `fsreplica ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "fsreplica", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 2,
        env=env,
        check=False,
    )


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll `condition` until it holds, or fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def tree(root: Path) -> dict[str, bytes]:
    """Regular files under `root` (hidden names excluded) by relative path."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath, name)
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


class Daemon:
    """`fsreplica replicate` as a child process, with its stderr in a file.

    Args:
        tmp_path: Where the log and the state go.
        src: SRC.
        dst: DEST, a path or a URL.
        *extra: More arguments.
        command: The program before the subcommand (default `python -m fsreplica`): behind a
            wrapper such as setpriv, or `python -c CODE` that sets up a fault, then runs the CLI.
        env: The child's environment (default this one's).
    """

    def __init__(
        self,
        tmp_path: Path,
        src: Path,
        dst: Path | str,
        *extra: str,
        command: Sequence[str] = (sys.executable, "-m", "fsreplica"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = tmp_path / f"replicate-{time.monotonic_ns()}.log"
        self.state = tmp_path / "state.db"
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [*command, "replicate", str(src), str(dst), "--state", str(self.state), *extra],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self) -> None:
        wait_for(
            lambda: "initial sync" in self.output() or self.proc.poll() is not None,
            "replicate to be ready",
        )
        assert self.proc.poll() is None, self.output()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(DEADLINE)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(DEADLINE)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
