"""Every example in the docs runs: docstring examples and the README's Python block."""

from __future__ import annotations

import doctest
import re
import threading
from pathlib import Path

import pytest

import fsreplica
from fsreplica.watch import watcher as watcher_module

ROOT = Path(__file__).resolve().parents[2]


def test_watcher_docstring_example() -> None:
    result = doctest.testmod(watcher_module, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_readme_python_example(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    example = next(b for b in blocks if "fsreplica.Watcher(" in b)
    (tmp_path / "data").mkdir()
    code = example.replace('"/data"', repr(str(tmp_path / "data")))
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    started = threading.Event()
    original_watch = fsreplica.Watcher.watch

    def watch_and_signal(self: fsreplica.Watcher, path: str) -> None:
        original_watch(self, path)
        started.set()
        # The example loops until stopped: write one file, then stop after its event.
        (tmp_path / "data" / "hello.txt").write_text("hi")
        threading.Timer(0.5, self.stop).start()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fsreplica.Watcher, "watch", watch_and_signal)
        exec(compile(code, "README.md", "exec"), namespace)
    assert started.is_set()
    assert printed == [f"put hello.txt {tmp_path}/data/hello.txt"]
