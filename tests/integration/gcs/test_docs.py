"""The GCS package's example runs as written, against fake-gcs-server named by the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from s3.test_docs import _literal_block

from fsreplica.destinations import gcs


def test_package_example(
    gcs_bucket: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, bucket = gcs_bucket
    # What the example leaves to the environment: the emulator, as Google's clients read it.
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "GCLOUD_", "CLOUDSDK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    assert gcs.__doc__ is not None
    code = _literal_block(gcs.__doc__)
    assert '"gs://bucket/prefix"' in code
    code = code.replace('"gs://bucket/prefix"', repr(f"gs://{bucket}/prefix"))
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(code, "fsreplica/destinations/gcs/__init__.py", "exec"), namespace)
    assert printed == [f"gs://{bucket}/prefix"]
