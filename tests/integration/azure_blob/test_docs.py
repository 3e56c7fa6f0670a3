"""The Azure package's example runs as written, against Azurite, with its settings in the
environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsreplica.destinations import azure
from integration.s3.test_docs import _literal_block
from servers import azurite


def test_package_example(container: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in azurite.env(tmp_path).items():
        if name.startswith(("AZURE_", "XDG_")):
            monkeypatch.setenv(name, value)
    assert azure.__doc__ is not None
    code = _literal_block(azure.__doc__)
    assert '"az://container/prefix"' in code
    code = code.replace('"az://container/prefix"', repr(f"az://{container}/prefix"))
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(code, "fsreplica/destinations/azure/__init__.py", "exec"), namespace)
    assert printed == [f"az://{container}/prefix"]
