"""The S3 package's example runs as written, against moto, with its settings in the environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fsreplica.destinations import s3
from servers import motoserver


def _literal_block(doc: str) -> str:
    """The first reST literal block (the indented lines after '::') of `doc`."""
    block = []
    for line in doc.split("::\n", 1)[1].splitlines():
        if line and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_package_example(
    moto_bucket: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, bucket = moto_bucket
    # What the example leaves to the environment: the endpoint, the keys, the region.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_CREDENTIAL_EXPIRATION", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", motoserver.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", motoserver.SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", motoserver.REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert s3.__doc__ is not None
    code = _literal_block(s3.__doc__)
    assert '"s3://bucket/prefix"' in code
    code = code.replace('"s3://bucket/prefix"', repr(f"s3://{bucket}/prefix"))
    printed: list[str] = []
    namespace = {"print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(code, "fsreplica/destinations/s3/__init__.py", "exec"), namespace)
    assert printed == [f"s3://{bucket}/prefix"]
