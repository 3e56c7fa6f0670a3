"""`fsreplica restore` from Azurite: round trips, blobs other tools wrote, --verify, --at."""

from __future__ import annotations

from pathlib import Path

from restore_trees import fsreplica, mixed_tree, snapshot, sync, write_tree

from servers import azurite


def put_raw(container: str, blobs: dict[str, bytes], **metadata: str) -> None:
    """Write blobs straight into the container, as another tool would."""
    with azurite.service() as service:
        client = service.get_container_client(container)
        for name, body in blobs.items():
            client.upload_blob(name, body, metadata=metadata or None, overwrite=True)


class TestRoundTrip:
    """Sync to Azurite, restore into an empty directory: the same tree, byte for byte."""

    def test_names_modes_mtimes(self, tmp_path: Path, container: str) -> None:
        env = azurite.env(tmp_path)
        source = tmp_path / "src"
        mixed_tree(source)
        write_tree(source / "azure", {b"back\\slash": b"b", b"dot.": b"d", b"dir./x": b"x"})
        url = f"az://{container}/replica"
        sync(source, url, state=tmp_path / "state.db", env=env)
        done = fsreplica("restore", url, tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        # No metadata cache to help: every blob's metadata is read from the store.
        env["XDG_CACHE_HOME"] = str(tmp_path / "cold-cache")
        cold = fsreplica("restore", url, tmp_path / "cold", "--verify", env=env)
        assert cold.returncode == 0, cold.stderr
        assert snapshot(tmp_path / "cold") == snapshot(source)

    def test_blobs_another_tool_wrote(self, tmp_path: Path, container: str) -> None:
        put_raw(container, {"p/plain.txt": b"no metadata"})
        # rclone's azureblob backend writes mtime as RFC 3339 with nanoseconds.
        put_raw(container, {"p/rclone": b"rc"}, mtime="2017-07-14T02:40:00.500000000Z")
        env = azurite.env(tmp_path)
        done = fsreplica("restore", f"az://{container}/p", tmp_path / "out", env=env)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "plain.txt").read_bytes() == b"no metadata"
        assert (tmp_path / "out" / "rclone").stat().st_mtime_ns == 1_500_000_000_500_000_000


class TestVerify:
    """A blob whose content no longer matches its recorded SHA-256 is not restored."""

    def test_catches_a_corrupted_blob(self, tmp_path: Path, container: str) -> None:
        env = azurite.env(tmp_path)
        source = tmp_path / "src"
        write_tree(source, {b"good": b"fine", b"bad": b"original"})
        sync(source, f"az://{container}/p", state=tmp_path / "state.db", env=env)
        with azurite.service() as service:
            blob = service.get_blob_client(container, "p/bad")
            metadata = blob.get_blob_properties().metadata
            blob.upload_blob(b"ORIGINAL", metadata=metadata, overwrite=True)
        out = tmp_path / "out"
        done = fsreplica("restore", f"az://{container}/p", out, "--verify", env=env)
        assert done.returncode == 1
        assert done.stderr.splitlines()[0] == (
            "fsreplica: restore bad: content does not match the sha256 the store recorded"
        )
        assert not (out / "bad").exists()
        assert (out / "good").read_bytes() == b"fine"


class TestAt:
    """--at needs versions, which the Azure destination does not read: a clear refusal."""

    def test_refused(self, tmp_path: Path, container: str) -> None:
        env = azurite.env(tmp_path)
        done = fsreplica("restore", f"az://{container}/p", tmp_path / "out", "--at", "0", env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"fsreplica: restore az://{container}/p: --at"), done.stderr
        assert not (tmp_path / "out").exists()
