"""Every example in the docs runs: docstring examples and the README's Python blocks."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import fsreplica
from fsreplica.watch import watcher as watcher_module

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _modules() -> list[str]:
    """Every module of the package (`__main__` runs the CLI when imported: not a library module)."""
    found = pkgutil.walk_packages(fsreplica.__path__, "fsreplica.")
    return sorted(info.name for info in found if not info.name.endswith(".__main__"))


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module) if test.examples]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL)


def _readme_block(needle: str) -> str:
    return next(b for b in _python_blocks(ROOT / "README.md") if needle in b)


def test_watcher_docstring_example() -> None:
    result = doctest.testmod(watcher_module, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each module's docstring examples pass (a module without any has nothing to run)."""
    tests = _doctests(importlib.import_module(name))
    # The examples make their directories with tempfile.mkdtemp(): keep them under tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0


def test_docstring_examples_are_found() -> None:
    """The examples of the public classes are among those run (the finder is not blind)."""
    with_examples = {
        test.name for name in _modules() for test in _doctests(importlib.import_module(name))
    }
    assert {
        "fsreplica.watch.watcher.Watcher",
        "fsreplica.replicate.replicator.Replicator",
        "fsreplica.watch.appear.DirectoryWait",
    } <= with_examples


def test_every_python_block_in_the_docs_is_run() -> None:
    """A Python block added to README.md or docs/ needs a test here that runs it."""
    blocks = [block for path in DOCS for block in _python_blocks(path)]
    run_here = [
        _readme_block("fsreplica.Watcher("),
        _readme_block("fsreplica.Replicator("),
        _encryption_block(),
    ]
    assert sorted(blocks) == sorted(run_here)


def _encryption_block() -> str:
    return next(iter(_python_blocks(ROOT / "docs" / "encryption.md")))


def test_encryption_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/encryption.md's example: a sealed file read back."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exec(compile(_encryption_block(), "docs/encryption.md", "exec"), {"__name__": "example"})


def test_every_literal_block_in_a_docstring_is_run() -> None:
    """A reST literal block ('::') in a docstring is an example: each has a test that runs it."""
    with_blocks = set()
    for name in _modules():
        for test in doctest.DocTestFinder(exclude_empty=False).find(importlib.import_module(name)):
            if test.docstring and "::\n" in test.docstring:
                with_blocks.add(test.name)
    # tests/integration/s3/test_docs.py::test_package_example runs the first against moto,
    # tests/integration/azure_blob/test_docs.py::test_package_example the second against Azurite,
    # tests/integration/gcs/test_docs.py::test_package_example the third against fake-gcs-server.
    assert with_blocks == {
        "fsreplica.destinations.s3",
        "fsreplica.destinations.azure",
        "fsreplica.destinations.gcs",
    }


def test_readme_python_example(tmp_path: Path) -> None:
    example = _readme_block("fsreplica.Watcher(")
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


def test_readme_replicator_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's replication example: a sync, then `run()` until stopped from another thread."""
    example = _readme_block("fsreplica.Replicator(")
    src, dst = tmp_path / "data", tmp_path / "backup" / "data"
    src.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):  # the example's comment: 3 files of 4 KiB
        (src / name).write_bytes(b"x" * 4096)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    code = example.replace('"/data"', repr(str(src))).replace('"/mnt/backup/data"', repr(str(dst)))
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    replicator_cls = fsreplica.Replicator
    original_run = replicator_cls.run
    stoppers: list[threading.Thread] = []

    def run_until_ready(self: Any, **options: Any) -> None:
        def stop_from_another_thread(_report: object) -> None:
            stoppers.append(threading.Thread(target=self.stop, name="docs-stopper"))
            stoppers[-1].start()

        original_run(self, on_ready=stop_from_another_thread, **options)

    monkeypatch.setattr(replicator_cls, "run", run_until_ready)
    exec(compile(code, "README.md", "exec"), namespace)
    for stopper in stoppers:
        stopper.join(timeout=10)
    assert len(stoppers) == 1
    assert len(printed) == 1
    assert printed[0].startswith("3 copied (12.0 KiB), 0 deleted, ")
    assert sorted(p.name for p in dst.iterdir()) == ["a.txt", "b.txt", "c.txt"]
