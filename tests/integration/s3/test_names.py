"""Names that are bytes, not text, to moto's S3: stored under reversibly encoded keys.

S3 keys are UTF-8 and the client refuses control characters; `fsreplica._names.to_key` maps every
file name to a key and `from_key` back, so a listing gives the source's names again.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from urllib.parse import unquote

from byte_names import BAD, byte_tree, examples, trees, u8_tree, write
from hypothesis import given

from fsreplica._names import from_key, to_key
from servers import motoserver

from .test_cli import Replicating, run, s3_env

NO_EXCLUDES = "--no-default-excludes"


def stored(endpoint: str, bucket: str, prefix: str) -> dict[bytes, bytes]:
    """Every object under `prefix`, by the file name its key stands for, as bytes."""
    client = motoserver.client(endpoint)
    out = {}
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/", EncodingType="url"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                key = unquote(obj["Key"])
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                out[os.fsencode(from_key(key.removeprefix(prefix + "/")))] = body
    finally:
        client.close()
    return out


class TestSync:
    """The issue's reproduction and arbitrary names, through `sync` and `verify` to moto."""

    def test_round_trip(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "u8"
        files = u8_tree(src)
        write(src, {b"new\nline.txt": b"nl", b"quote\xe2\x80\x9b.txt": b"q", b"tab\t": b"t"})
        files.update({b"new\nline.txt": b"nl", b"quote\xe2\x80\x9b.txt": b"q", b"tab\t": b"t"})
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        url, state = f"s3://{bucket}/u8", ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "12 copied" in done.stderr
        assert stored(endpoint, bucket, "u8") == files
        assert to_key(os.fsdecode(BAD)) == "bad\u201bFF.txt"  # documented in the README
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr
        assert "12 unchanged" in done.stderr
        # Without the state and the metadata cache, only the listing knows the names.
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")
        done = run(["sync", str(src), url, "--state", str(tmp_path / "state2.db")], env)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr
        assert "0 deleted" in done.stderr

    def test_arbitrary_byte_names(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        url, state = f"s3://{bucket}/any", ["--state", str(tmp_path / "state.db")]
        count = itertools.count()
        expected: dict[bytes, bytes] = {}

        @examples(6)
        @given(files=trees())
        def example(files: dict[bytes, bytes]) -> None:
            sub = f"ex{next(count)}".encode()
            write(src, {sub + b"/" + name: data for name, data in files.items()})
            expected.update(byte_tree(src))
            done = run(["sync", str(src), url, *state, NO_EXCLUDES], env)
            assert done.returncode == 0, done.stderr

        example()
        assert stored(endpoint, bucket, "any") == expected
        done = run(["verify", str(src), url, NO_EXCLUDES], env)
        assert done.returncode == 0, done.stdout + done.stderr


class TestReplicate:
    """`replicate` to moto with arbitrary names created while it runs."""

    def test_arbitrary_byte_names(self, tmp_path: Path, moto_bucket: tuple[str, str]) -> None:
        endpoint, bucket = moto_bucket
        src = tmp_path / "src"
        src.mkdir()
        env = s3_env(tmp_path, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
        count = itertools.count()
        with Replicating(src, f"s3://{bucket}/live", env, tmp_path, NO_EXCLUDES):

            @examples(6)
            @given(files=trees())
            def example(files: dict[bytes, bytes]) -> None:
                sub = f"ex{next(count)}".encode()
                write(src, {sub + b"/" + name: data for name, data in files.items()})
                want = byte_tree(src)
                deadline = time.monotonic() + 15
                while (got := stored(endpoint, bucket, "live")) != want:
                    assert time.monotonic() < deadline, f"{got} != {want}"
                    time.sleep(0.1)

            example()
