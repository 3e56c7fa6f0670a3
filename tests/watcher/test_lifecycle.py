"""Starting, stopping, several roots, threads, asyncio and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import fsreplica

from .conftest import WAIT, write


class TestStop:
    """stop() ends the iterators, delivers what was pending and is idempotent."""

    def test_stop_ends_a_blocked_iterator(self, tmp_path: Path) -> None:
        watcher = fsreplica.Watcher()
        watcher.watch(tmp_path)
        ended = threading.Event()

        def consume() -> None:
            for _ in watcher.events():
                pass
            ended.set()

        thread = threading.Thread(target=consume)
        thread.start()
        started = time.monotonic()
        watcher.stop()
        assert ended.wait(WAIT)
        thread.join(WAIT)
        # The issue asks for 100 ms; a loose bound here, the benchmark measures it.
        assert time.monotonic() - started < 2.0

    def test_stop_delivers_pending_first(self, tmp_path: Path) -> None:
        watcher = fsreplica.Watcher(fsreplica.WatcherConfig(debounce_delay=30))
        watcher.watch(tmp_path)
        write(tmp_path / "f", "first")
        events = watcher.events()
        assert next(events).key == "f"
        write(tmp_path / "f", "second")  # inside the 30 s window: held back
        write(tmp_path / "g", "other")
        assert next(events).key == "g"
        watcher.stop()
        rest = list(events)
        assert [(e.key, e.operation) for e in rest] == [("f", "put")]

    def test_stop_is_idempotent_and_thread_safe(self, tmp_path: Path) -> None:
        watcher = fsreplica.Watcher()
        watcher.watch(tmp_path)
        threads = [threading.Thread(target=watcher.stop) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        watcher.stop()
        assert list(watcher.events()) == []

    def test_stop_without_watching(self) -> None:
        watcher = fsreplica.Watcher()
        watcher.stop()
        assert list(watcher.events()) == []
        assert watcher.stats.roots == 0

    def test_context_manager(self, tmp_path: Path) -> None:
        with fsreplica.Watcher() as watcher:
            watcher.watch(tmp_path)
        with pytest.raises(fsreplica.WatcherStopped):
            watcher.watch(tmp_path)


class TestUse:
    """Several roots, several consumers, asyncio."""

    def test_several_roots(self, tmp_path: Path, make_watcher) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        watcher, events = make_watcher(one)
        watcher.watch(two)
        write(one / "a", "x")
        write(two / "a", "x")
        assert events.wait(lambda: len(events.events) == 2)
        assert {e.path for e in events.events} == {str(one / "a"), str(two / "a")}
        assert watcher.stats.roots == 2

    def test_relative_and_pathlike_roots(self, tmp_path: Path, monkeypatch) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "rel").mkdir()
        with fsreplica.Watcher() as watcher:
            watcher.watch("rel")
            write(tmp_path / "rel" / "f", "x")
            event = next(iter(watcher.events()))
        assert event.path == str(tmp_path / "rel" / "f")
        assert event.root == str(tmp_path / "rel")

    def test_aevents(self, tmp_path: Path) -> None:
        async def main() -> list[str]:
            got: list[str] = []
            with fsreplica.Watcher() as watcher:
                watcher.watch(tmp_path)
                loop = asyncio.get_running_loop()
                loop.call_later(0.05, write, tmp_path / "a", "x")
                loop.call_later(0.1, write, tmp_path / "b", "x")
                async for event in watcher.aevents():
                    got.append(event.key)
                    if len(got) == 2:
                        loop.call_soon(watcher.stop)
            return got

        assert asyncio.run(asyncio.wait_for(main(), WAIT)) == ["a", "b"]

    def test_aevents_raises_watcher_errors(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        root.mkdir()

        async def main() -> str:
            with fsreplica.Watcher() as watcher:
                watcher.watch(root)
                asyncio.get_running_loop().call_later(0.05, root.rmdir)
                try:
                    async for _ in watcher.aevents():
                        pass
                except fsreplica.WatcherError as exc:
                    return str(exc)
            return "no error"

        assert "watched root was deleted" in asyncio.run(asyncio.wait_for(main(), WAIT))

    def test_two_consumers_share_the_stream(self, tmp_path: Path) -> None:
        got: list[str] = []
        lock = threading.Lock()
        with fsreplica.Watcher(fsreplica.WatcherConfig(debounce_delay=0)) as watcher:
            watcher.watch(tmp_path)

            def consume() -> None:
                for event in watcher.events():
                    with lock:
                        got.append(event.key)

            threads = [threading.Thread(target=consume) for _ in range(2)]
            for t in threads:
                t.start()
            for i in range(200):
                write(tmp_path / f"f{i}", "x")
            deadline = time.monotonic() + WAIT
            while len(got) < 200 and time.monotonic() < deadline:
                time.sleep(0.01)
        for t in threads:
            t.join(WAIT)
        assert sorted(got) == sorted(f"f{i}" for i in range(200))

    def test_non_utf8_names(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        name = b"caf\xe9.txt"
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
            f.write(b"x")
        event = events.wait_key(os.fsdecode(name))
        assert os.fsencode(event.path).endswith(name)


class TestConfig:
    """Bad settings are refused at once."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("debounce_delay", -1),
            ("event_buffer", 0),
            ("write_quiet", 0),
            ("max_pending", 0),
            ("backend", "kqueue"),
        ],
    )
    def test_invalid(self, field: str, value: object) -> None:
        with pytest.raises(ValueError, match=field):
            fsreplica.WatcherConfig(**{field: value})  # type: ignore[arg-type]

    def test_ignore_must_not_be_a_string(self) -> None:
        with pytest.raises(TypeError, match="sequence"):
            fsreplica.WatcherConfig(ignore=".*")


class TestCommandLine:
    """`fsreplica watch` prints events as lines."""

    def _run(self, tmp_path: Path, *args: str) -> list[str]:
        # `with` closes the pipes even when the test fails, so no warning about an unclosed file
        # surfaces later in another test.
        with subprocess.Popen(
            [sys.executable, "-m", "fsreplica", "watch", *args, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                assert proc.stderr is not None
                assert proc.stdout is not None
                assert "watching" in proc.stderr.readline()
                write(tmp_path / "a.txt", "x")
                first = proc.stdout.readline()
                proc.send_signal(signal.SIGINT)
                rest, _ = proc.communicate(timeout=WAIT)
            finally:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0
        return [first, *rest.splitlines()]

    def test_text_lines(self, tmp_path: Path) -> None:
        assert self._run(tmp_path)[0] == f"put: {tmp_path}/a.txt\n"

    def test_json_lines(self, tmp_path: Path) -> None:
        record = json.loads(self._run(tmp_path, "--json")[0])
        assert record["operation"] == "put"
        assert record["key"] == "a.txt"
        assert record["path"] == f"{tmp_path}/a.txt"
        assert record["moved_from"] is None

    def test_missing_directory_exits_2(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "fsreplica", "watch", str(tmp_path / "nope")],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr == f"fsreplica: watch {tmp_path}/nope: No such file or directory\n"


class TestIteratorHandOver:
    """Events a consumer did not take stay in the stream for the next reader."""

    def test_break_keeps_the_rest(self, tmp_path: Path) -> None:
        with fsreplica.Watcher(fsreplica.WatcherConfig(debounce_delay=0)) as watcher:
            watcher.watch(tmp_path)
            for i in range(5):
                write(tmp_path / f"f{i}", "x")
            keys: list[str] = []
            while len(keys) < 5:
                for event in watcher.events():
                    keys.append(event.key)
                    break  # one at a time: the rest of each batch goes back
        assert sorted(keys) == [f"f{i}" for i in range(5)]
