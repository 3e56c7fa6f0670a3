"""DirectoryWait: a directory's appearance is awaited with inotify on its nearest ancestor."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fsreplica.watch.appear import DirectoryWait

WAIT = 10.0


def _waiting(path: Path) -> tuple[DirectoryWait, threading.Thread, list[bool]]:
    waiting = DirectoryWait(str(path))
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(waiting.wait()), name="test-wait")
    thread.start()
    return waiting, thread, result


class TestDirectoryWait:
    """Returns once the directory exists; cancel() ends the wait."""

    def test_an_existing_directory_returns_at_once(self, tmp_path: Path) -> None:
        with DirectoryWait(str(tmp_path)) as waiting:
            assert waiting.wait()

    def test_a_path_created_level_by_level_is_seen(self, tmp_path: Path) -> None:
        target = tmp_path / "a" / "b" / "src"
        waiting, thread, result = _waiting(target)
        try:
            (tmp_path / "a").mkdir()
            (tmp_path / "a" / "b").mkdir()
            (tmp_path / "a" / "b" / "src").write_text("a file is not the directory")
            os.unlink(target)
            target.mkdir()
            thread.join(WAIT)
            assert result == [True]
        finally:
            waiting.cancel()
            thread.join(WAIT)
            waiting.close()

    def test_a_directory_moved_in_is_seen(self, tmp_path: Path) -> None:
        (tmp_path / "elsewhere").mkdir()
        waiting, thread, result = _waiting(tmp_path / "src")
        try:
            (tmp_path / "elsewhere").rename(tmp_path / "src")
            thread.join(WAIT)
            assert result == [True]
        finally:
            waiting.cancel()
            thread.join(WAIT)
            waiting.close()

    def test_cancel_ends_the_wait(self, tmp_path: Path) -> None:
        waiting, thread, result = _waiting(tmp_path / "never")
        waiting.cancel()
        thread.join(WAIT)
        waiting.close()
        assert result == [False]
