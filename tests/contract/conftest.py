"""The destination conformance suite: every destination runs `test_destination_contract.py`.

How a destination joins the suite
---------------------------------
Add a module `tests/contract/factories/<name>.py` that defines::

    FACTORIES: list[tuple[str, Factory]]

where each entry is `(test_id, factory)` and `factory` is a context manager factory taking the
test's `tmp_path` (a `pathlib.Path`, empty, private to the test) and yielding an open
`fsreplica.destinations.Destination` that starts empty. It is closed by the factory on exit, and
whatever it created (a bucket, a prefix) should be removed there too. Example::

    @contextlib.contextmanager
    def local(tmp_path: Path) -> Iterator[Destination]:
        dest = LocalDestination(tmp_path / "dest")
        try:
            yield dest
        finally:
            dest.close()

    FACTORIES = [("local", local)]

A factory whose service is not available (no server, no credentials, missing package) calls
`pytest.skip("reason")` inside the context manager before yielding; the tests of that id are then
reported as skipped, never failed. Factories are discovered by file name (every `*.py` in
`factories/` not starting with "_"), imported by path, so they need no `__init__.py` and may import
anything from `fsreplica` and the standard library.

The `destination` fixture is parametrised over every discovered factory; `source_file(name, data)`
writes a file under `tmp_path / "src"` and returns its path.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from fsreplica.destinations import Destination

Factory = Callable[[Path], AbstractContextManager[Destination]]

FACTORY_DIR = Path(__file__).parent / "factories"


def discover_factories() -> list[tuple[str, Factory]]:
    """Import every factory module and return all (id, factory) pairs, sorted by module name."""
    found: list[tuple[str, Factory]] = []
    for path in sorted(FACTORY_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"_contract_factories_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.extend(module.FACTORIES)
    return found


FACTORIES = discover_factories()


@pytest.fixture(params=[factory for _, factory in FACTORIES], ids=[name for name, _ in FACTORIES])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    """An open, empty destination of each kind."""
    factory: Factory = request.param
    with factory(tmp_path) as dest:
        yield dest


@pytest.fixture
def source_file(tmp_path: Path) -> Callable[..., str]:
    """Write a source file under tmp_path/src and return its path."""
    root = tmp_path / "src"
    root.mkdir(exist_ok=True)

    def write(name: str, data: bytes, *, mode: int = 0o644, mtime_ns: int | None = None) -> str:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        return str(path)

    return write
