"""Names that are bytes, not text, to fake-gcs-server: stored under reversibly encoded names
(`fsreplica._names.to_key`, as on S3), listed under the source's names again."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from byte_names import BAD, byte_tree, examples, trees, u8_tree, write
from hypothesis import given
from s3.test_cli import Replicating, run

from fsreplica._names import from_key
from servers import fakegcs

NO_EXCLUDES = "--no-default-excludes"


def stored(endpoint: str, bucket: str, prefix: str) -> dict[bytes, bytes]:
    """Every object under `prefix`, by the file name its name stands for, as bytes."""
    found = fakegcs.objects(bucket, prefix + "/", endpoint)
    return {os.fsencode(from_key(name)): data for name, data in found.items()}


class TestSync:
    """Invalid UTF-8, controls and the quote character, through `sync` and `verify`."""

    def test_round_trip(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "u8"
        files = u8_tree(src)
        extra = {b"new\nline.txt": b"nl", b"quote\xe2\x80\x9b.txt": b"q", b"tab\t": b"t"}
        write(src, extra)
        files.update(extra)
        env = fakegcs.env(tmp_path, endpoint)
        url, state = f"gs://{bucket}/u8", ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "12 copied" in done.stderr
        assert stored(endpoint, bucket, "u8") == files
        assert "bad\u201bFF.txt" in fakegcs.objects(bucket, "u8/", endpoint)
        assert os.fsencode(from_key("bad\u201bFF.txt")) == BAD
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        # Without the state only the listing knows the names: nothing to copy or delete.
        done = run(["sync", str(src), url, "--state", str(tmp_path / "state2.db")], env)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr
        assert "0 deleted" in done.stderr

    def test_arbitrary_byte_names(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        env = fakegcs.env(tmp_path, endpoint)
        url, state = f"gs://{bucket}/any", ["--state", str(tmp_path / "state.db")]
        count = itertools.count()
        expected: dict[bytes, bytes] = {}

        @examples(4)  # each a CLI run: 4 keep the test well inside 30 s on a busy machine
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
    """`replicate` to fake-gcs-server with arbitrary names created while it runs."""

    def test_arbitrary_byte_names(self, tmp_path: Path, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        src = tmp_path / "src"
        src.mkdir()
        env = fakegcs.env(tmp_path, endpoint)
        count = itertools.count()
        with Replicating(src, f"gs://{bucket}/live", env, tmp_path, NO_EXCLUDES):

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
