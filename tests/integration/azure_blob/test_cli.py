"""The CLI against Azurite: sync + verify, preflight exit codes without secrets, names that are
bytes, replicate through a burst, a SIGKILL and an outage."""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

import pytest
from byte_names import BAD, byte_tree, examples, trees, u8_tree, write
from hypothesis import given
from test_cli_replicate_helpers import Daemon, fsreplica, wait_for

from fsreplica._names import from_key, to_blob_key
from integration.s3.test_cli import Replicating, run, tree, wait_verified
from servers import azurite
from servers.tcpproxy import Relay

NO_EXCLUDES = "--no-default-excludes"


def stored(container: str, prefix: str) -> dict[bytes, bytes]:
    """Every blob under `prefix`, by the file name its blob name stands for, as bytes."""
    out = {}
    with azurite.service() as service:
        client = service.get_container_client(container)
        for blob in client.list_blobs(name_starts_with=prefix + "/"):
            data = client.download_blob(blob.name).readall()
            out[os.fsencode(from_key(blob.name.removeprefix(prefix + "/")))] = data
    return out


def names(container: str, prefix: str) -> set[str]:
    with azurite.service() as service:
        client = service.get_container_client(container)
        return {
            from_key(b.name.removeprefix(prefix + "/"))
            for b in client.list_blobs(name_starts_with=prefix + "/")
        }


class TestSyncVerify:
    """sync to a container, then verify, then changes and a no-change re-sync."""

    def test_sync_then_verify(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "src"
        tree(src, {f"d{i % 3}/f{i}.txt": f"file {i}".encode() for i in range(30)})
        tree(src, {"big.bin": os.urandom(20 * 1024 * 1024)})  # above the block threshold
        env = azurite.env(tmp_path)
        url, state = f"az://{container}/backup", ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert "31 copied" in done.stderr
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        (src / "d0" / "f0.txt").write_bytes(b"changed")
        (src / "d1" / "f1.txt").unlink()
        os.utime(src / "d2" / "f2.txt", ns=(1_600_000_000_000_000_000,) * 2)  # metadata only
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        done = run(["sync", str(src), url, *state], env)
        assert (done.returncode, "0 copied" in done.stderr) == (0, True), done.stderr

    def test_endpoint_flag_and_connection_string(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "src"
        tree(src, {"a.txt": b"a"})
        env = {k: v for k, v in azurite.env(tmp_path).items() if k != "AZURE_STORAGE_ENDPOINT"}
        url = f"az://{container}/flags"
        done = run(["sync", str(src), url, "--endpoint-url", azurite.endpoint()], env)
        assert done.returncode == 0, done.stderr
        for name in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"):
            env.pop(name)
        env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string()
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr

    def test_region_refused(self, tmp_path: Path, container: str) -> None:
        (tmp_path / "src").mkdir()
        done = run(
            ["sync", str(tmp_path / "src"), f"az://{container}", "--region", "x"],
            azurite.env(tmp_path),
        )
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: --region: only for s3:// destinations",
        )


class TestPreflightExitCodes:
    """A container that cannot be used is exit 2 and one line, never the key."""

    def test_wrong_key_missing_container_unreachable(self, tmp_path: Path, container: str) -> None:
        (tmp_path / "src").mkdir()
        src = str(tmp_path / "src")
        env = azurite.env(tmp_path)
        wrong = "B" * 30 + azurite.KEY[30:]
        done = run(["sync", src, f"az://{container}"], {**env, "AZURE_STORAGE_ACCOUNT_KEY": wrong})
        assert (done.returncode, done.stderr.strip()) == (
            2,
            f"fsreplica: az://{container}: access denied (check AZURE_STORAGE_ACCOUNT_KEY)",
        )
        assert wrong not in done.stdout + done.stderr
        done = run(["sync", src, "az://no-such-container"], env)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "fsreplica: az://no-such-container: container does not exist",
        )
        port = azurite.free_port()
        endpoint = f"http://127.0.0.1:{port}/{azurite.ACCOUNT}"
        done = run(["sync", src, f"az://{container}", "--endpoint-url", endpoint], env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"fsreplica: az://{container}: cannot reach {endpoint}")
        assert azurite.KEY not in done.stdout + done.stderr


class TestNames:
    """Names that are bytes, control characters, backslashes and trailing dots round trip."""

    def test_round_trip(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "u8"
        files = u8_tree(src)
        extra = {b"new\nline.txt": b"nl", b"back\\slash": b"b", b"dot.": b"d", b"tab\t": b"t"}
        write(src, extra)
        files.update(extra)
        env = azurite.env(tmp_path)
        url, state = f"az://{container}/u8", ["--state", str(tmp_path / "state.db")]
        done = run(["sync", str(src), url, *state], env)
        assert done.returncode == 0, done.stderr
        assert stored(container, "u8") == files
        assert to_blob_key(os.fsdecode(BAD)) == "bad\u201bFF.txt"
        done = run(["verify", str(src), url], env)
        assert done.returncode == 0, done.stdout + done.stderr
        # Without the state and the metadata cache, only the listing knows the names.
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")
        done = run(["sync", str(src), url, "--state", str(tmp_path / "state2.db")], env)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr
        assert "0 deleted" in done.stderr

    def test_arbitrary_byte_names(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "src"
        env = azurite.env(tmp_path)
        url, state = f"az://{container}/any", ["--state", str(tmp_path / "state.db")]
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
        assert stored(container, "any") == expected
        done = run(["verify", str(src), url, NO_EXCLUDES], env)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
class TestReplicate:
    """replicate to Azurite through a burst, renames and deletes, a SIGKILL, an outage."""

    def test_burst_renames_deletes(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "src"
        src.mkdir()
        url, env = f"az://{container}/live", azurite.env(tmp_path)
        with Replicating(src, url, env, tmp_path):
            tree(src, {f"burst/{i}.txt": os.urandom(2048) for i in range(100)})
            os.rename(src / "burst" / "0.txt", src / "renamed.txt")
            (src / "burst" / "1.txt").unlink()
            assert wait_verified(src, url, env, 15) == ""

    def test_sigkill_and_restart(self, tmp_path: Path, container: str) -> None:
        src = tmp_path / "src"
        src.mkdir()
        url, env = f"az://{container}/live", azurite.env(tmp_path)
        with Replicating(src, url, env, tmp_path) as first:
            tree(src, {f"a/{i}.txt": os.urandom(4096) for i in range(100)})
            time.sleep(0.3)  # not a synchronisation: let it get some way, then kill it mid-stream
            first.kill()
        tree(src, {f"b/{i}.txt": b"after the kill" for i in range(10)})
        (src / "a" / "5.txt").unlink()
        with Replicating(src, url, env, tmp_path):
            assert wait_verified(src, url, env, 15) == ""

    def test_outage_is_logged_when_it_starts_and_when_it_ends(
        self, tmp_path: Path, container: str
    ) -> None:
        """Azurite unreachable (a relay in front of it refuses connections), then back."""
        port = int(azurite.endpoint().rsplit(":", 1)[1].split("/")[0])
        with Relay(port) as relay:
            endpoint = f"http://127.0.0.1:{relay.port}/{azurite.ACCOUNT}"
            env = azurite.env(tmp_path, endpoint)
            src = tmp_path / "src"
            src.mkdir()
            (src / "before.txt").write_text("replicated before the outage")
            url = f"az://{container}/outage"
            d = Daemon(tmp_path, src, url, env=env)
            try:
                d.wait_ready()
                wait_for(lambda: names(container, "outage") == {"before.txt"}, "the first copy")
                with relay.down():
                    for i in range(10):
                        (src / f"during{i}.txt").write_text(f"written while it was down {i}")
                    wait_for(lambda: "unavailable" in d.output(), "the outage to be logged")
                wanted = {path.name for path in src.iterdir()}
                wait_for(lambda: names(container, "outage") == wanted, "the changes after it")
                wait_for(lambda: "available again" in d.output(), "the end of the outage")
                output = d.output()
                start = [line for line in output.splitlines() if "unavailable" in line]
                end = [line for line in output.splitlines() if "available again" in line]
                assert len(start) == 1, output
                assert len(end) == 1, output
                assert f"destination {url} unavailable: " in start[0], output
                assert re.search(r"; \d+ changes waiting", start[0]), output
                verify = fsreplica("verify", src, url, env=env)
                assert verify.returncode == 0, verify.stdout + verify.stderr
                assert d.terminate() == 0
            finally:
                d.close()
