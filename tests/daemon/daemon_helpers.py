"""Helpers for the daemon's tests (no tests here): a daemon process, trees, config text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from fsreplica.destinations import ObjectInfo, SourceFile
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import DestinationError
from servers import motoserver

DEADLINE = 20.0


def daemon_environ(tmp_path: Path) -> dict[str, str]:
    """What a daemon of this test sees: its XDG directories under tmp_path, moto's keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XDG_"))}
    for name in ("CONFIG", "STATE", "CACHE", "RUNTIME"):
        directory = tmp_path / "xdg" / name.lower()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[f"XDG_{name}_HOME" if name != "RUNTIME" else "XDG_RUNTIME_DIR"] = str(directory)
    env.update(
        AWS_ACCESS_KEY_ID=motoserver.ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=motoserver.SECRET_KEY,
        AWS_DEFAULT_REGION=motoserver.REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    return env


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll `condition` until it holds, or fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def tree(root: Path) -> dict[str, bytes]:
    """Regular files under `root` (hidden names left out) by relative path; {} when missing."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath, name)
            if name.startswith("."):
                continue
            try:
                out[str(path.relative_to(root))] = path.read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                continue  # renamed into place meanwhile
    return out


def bucket_tree(endpoint: str, bucket: str, prefix: str) -> dict[str, bytes]:
    """Objects under `prefix/` by key relative to it."""
    s3 = motoserver.client(endpoint)
    try:
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/"
        ):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(prefix) + 1 :]
                if key.startswith("."):
                    continue
                out[key] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        return out
    finally:
        s3.close()


def policy_table(policy_id: str, source: Path, destination: Path | str, **more: object) -> str:
    """A `[[policy]]` table's text."""
    lines = [
        "[[policy]]",
        f'id = "{policy_id}"',
        f'source = "{source}"',
        f'destination = "{destination}"',
    ]
    for key, value in more.items():
        text = str(value).lower() if isinstance(value, bool) else repr(value)
        lines.append(f"{key} = {text}".replace("'", '"'))
    return "\n".join(lines) + "\n"


class DaemonProcess:
    """`fsreplica daemon --config PATH -v` as a child process, its stderr in a file."""

    def __init__(self, tmp_path: Path, config: Path, *, env: dict[str, str]) -> None:
        self.log = tmp_path / f"daemon-{time.monotonic_ns()}.log"
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fsreplica", "daemon", "--config", str(config), "-v"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_started(self) -> None:
        wait_for(
            lambda: "daemon started" in self.output() or self.proc.poll() is not None,
            "the daemon to start",
        )
        assert self.proc.poll() is None, self.output()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def reload(self) -> str:
        """SIGHUP; return the line that says what changed."""
        count = self.output().count("reload")
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.output().count("reload") > count, "the reload line")
        return [line for line in self.output().splitlines() if "reload" in line][-1]

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(DEADLINE)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(DEADLINE)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.proc.__exit__(exc_type, exc, tb)


class Bug(BaseException):
    """Not an Exception: nothing on its way catches it, as a bug in a worker thread."""


def broken_destination(url: str) -> MemoryDestination:
    """A destination (`broken://`) whose every put meets a bug."""

    def put(key: str, source: object) -> NoReturn:
        raise Bug(f"a bug putting {key}")

    destination = MemoryDestination.from_url("memory://")
    destination.put = put  # type: ignore[method-assign,assignment]
    return destination


def refusing_destination(url: str) -> MemoryDestination:
    """A destination (`refusing://`) that refuses every key starting with "bad" (for good)."""
    destination = MemoryDestination.from_url("memory://")
    put = destination.put

    def refusing_put(key: str, source: SourceFile) -> ObjectInfo:
        if key.startswith("bad"):
            raise DestinationError("put", destination.url, "access denied")
        return put(key, source)

    destination.put = refusing_put  # type: ignore[method-assign]
    return destination
