"""Errors: one line naming the path and the cause; lost roots reported on the stream."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import fsreplica
from fsreplica.errors import InternalError
from fsreplica.pipeline import Debouncer

from .conftest import sysctl, write

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"


class TestWatchErrors:
    """watch() refuses what it cannot watch."""

    def test_missing_path(self, tmp_path: Path) -> None:
        with fsreplica.Watcher() as watcher, pytest.raises(fsreplica.WatcherError) as info:
            watcher.watch(tmp_path / "nonexistent")
        err = info.value
        assert err.op == "watch"
        assert err.path == str(tmp_path / "nonexistent")
        assert isinstance(err.err, FileNotFoundError)
        assert isinstance(err.__cause__, FileNotFoundError)
        assert str(err) == f"watch {tmp_path}/nonexistent: No such file or directory"

    def test_a_file(self, tmp_path: Path) -> None:
        write(tmp_path / "f", "x")
        with fsreplica.Watcher() as watcher, pytest.raises(fsreplica.WatcherError) as info:
            watcher.watch(tmp_path / "f")
        assert str(info.value) == f"watch {tmp_path}/f: not a directory"

    def test_unreadable_directory(self) -> None:
        """Checked in a forked child running as nobody: root can read anything."""
        base = Path(tempfile.mkdtemp())
        try:
            base.chmod(0o755)
            target = base / "locked"
            target.mkdir(mode=0o700)
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child reports through the pipe
                os.close(read_end)
                message = "no error"
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    watcher = fsreplica.Watcher()
                    try:
                        watcher.watch(target)
                    except fsreplica.WatcherError as exc:
                        message = f"{exc.op} | {exc}"
                    finally:
                        watcher.stop()
                finally:
                    os.write(write_end, message.encode())
                    os._exit(0)
            os.close(write_end)
            with os.fdopen(read_end) as pipe:
                message = pipe.read()
            os.waitpid(pid, 0)
            assert message == f"watch | watch {target}: Permission denied"
        finally:
            shutil.rmtree(base)

    def test_watch_after_stop(self, tmp_path: Path) -> None:
        watcher = fsreplica.Watcher()
        watcher.stop()
        with pytest.raises(fsreplica.WatcherStopped) as info:
            watcher.watch(tmp_path)
        assert isinstance(info.value, fsreplica.WatcherError)
        assert str(info.value) == f"watch {tmp_path}: watcher stopped"

    def test_overlapping_roots(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "sub").mkdir()
        watcher, _ = make_watcher(tmp_path)
        watcher.watch(tmp_path)  # the same root again: nothing happens
        with pytest.raises(fsreplica.WatcherError, match="overlaps the watched root"):
            watcher.watch(tmp_path / "sub")

    @pytest.mark.sysctl
    def test_watch_limit(self, tmp_path: Path) -> None:
        for i in range(40):
            (tmp_path / f"d{i}").mkdir()
        with sysctl(MAX_USER_WATCHES, 10):
            config = fsreplica.WatcherConfig(backend="inotify")  # "auto" would poll what is over
            with (
                fsreplica.Watcher(config) as watcher,
                pytest.raises(fsreplica.WatcherError) as info,
            ):
                watcher.watch(tmp_path)
        message = str(info.value)
        assert message.startswith(f"watch {tmp_path}")
        assert "fs.inotify.max_user_watches=10" in message
        assert "needs 41 watches" in message
        assert "sysctl -w fs.inotify.max_user_watches=" in message


class TestLostRoots:
    """A root that disappears is an error on the stream; other roots keep working."""

    @pytest.mark.parametrize(
        "how",
        [
            "delete",
            pytest.param(
                "move",
                marks=pytest.mark.limitation(
                    "portable", reason="watchdog drops inotify's IN_MOVE_SELF of a root"
                ),
            ),
        ],
    )
    def test_root_gone(self, tmp_path: Path, make_watcher, how: str) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        (one / "sub").mkdir(parents=True)
        two.mkdir()
        watcher, events = make_watcher(one, two)
        if how == "delete":
            shutil.rmtree(one)
        else:
            os.rename(one, tmp_path / "elsewhere")
        assert events.wait(lambda: bool(events.errors)), events.summary()
        err = events.errors[0]
        assert err.op == "watch"
        assert err.path == str(one)
        assert ("deleted" if how == "delete" else "moved away") in str(err)
        write(two / "still", "works")
        events.wait_key("still")
        assert watcher.stats.roots == 1

    def test_error_in_events_raises_then_resumes(self, tmp_path: Path) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        with fsreplica.Watcher() as watcher:
            watcher.watch(one)
            watcher.watch(two)
            one.rmdir()
            with pytest.raises(fsreplica.WatcherError, match="watched root was deleted"):
                for _ in watcher.events():
                    pass
            write(two / "f", "x")
            event = next(iter(watcher.events()))
            assert event.key == "f"

    def test_event_batches_yield_what_comes_before_an_error_then_raise_it(
        self, tmp_path: Path
    ) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        with fsreplica.Watcher(fsreplica.WatcherConfig(debounce_delay=0)) as watcher:
            watcher.watch(one)
            watcher.watch(two)
            write(two / "before", "x")
            seen: list[str] = []

            def read() -> None:
                for batch in watcher.event_batches():
                    assert batch, "a batch is never empty"
                    seen.extend(event.key for event in batch)
                    if "before" in seen:
                        one.rmdir()

            with pytest.raises(fsreplica.WatcherError, match="watched root was deleted"):
                read()
            assert seen == ["before"]
            write(two / "after", "x")
            batch = next(iter(watcher.event_batches()))
            assert [event.key for event in batch] == ["after"]


class TestThreadFailure:
    """A backend whose thread fails says so in the stream, instead of going quiet."""

    def test_raised_from_events_as_an_internal_error(
        self, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config = fsreplica.WatcherConfig(backend=backend, poll_interval=0.05)  # type: ignore[arg-type]
        with fsreplica.Watcher(config) as watcher:
            watcher.watch(tmp_path)

            def fault(self: Debouncer[object], now: float) -> list[object]:
                raise RuntimeError("injected fault")

            monkeypatch.setattr(Debouncer, "pop_due", fault)
            write(tmp_path / "wake", "x")  # the owner thread's next turn meets the fault
            with pytest.raises(InternalError) as info:
                for _ in watcher.events():
                    pass
        assert info.value.thread == f"fsreplica-{backend}"
        assert (
            str(info.value)
            == f"internal error in fsreplica-{backend}: RuntimeError: injected fault"
        )
        assert isinstance(info.value.__cause__, RuntimeError)

    def test_counted_in_stats_errors(
        self, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The failure goes through the same output as every other error, so it is counted."""
        config = fsreplica.WatcherConfig(backend=backend, poll_interval=0.05)  # type: ignore[arg-type]
        with fsreplica.Watcher(config) as watcher:
            watcher.watch(tmp_path)

            def fault(self: Debouncer[object], now: float) -> list[object]:
                raise RuntimeError("injected fault")

            monkeypatch.setattr(Debouncer, "pop_due", fault)
            write(tmp_path / "wake", "x")
            with pytest.raises(InternalError):
                for _ in watcher.events():
                    pass
            assert watcher.stats.errors == 1


class TestErrorTypes:
    """The error classes format and chain as documented."""

    def test_watcher_error_with_text_cause(self) -> None:
        err = fsreplica.WatcherError("scan", "/x", "boom")
        assert str(err) == "scan /x: boom"
        assert err.err == "boom"

    def test_destination_error(self) -> None:
        err = fsreplica.DestinationError("put", "s3://b/k", "connection refused", retryable=True)
        assert str(err) == "put s3://b/k: connection refused"
        assert err.retryable
        assert isinstance(err, fsreplica.FsreplicaError)
