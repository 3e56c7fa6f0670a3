"""`--encrypt` and `fsreplica key` as real processes, on a local DEST.

Round trips (sync and replicate, with renames and deletes), what the destination holds (no
canary anywhere: content, names, extended attributes), tampering found by verify, rotation, and
failures that write nothing: a wrong passphrase, a loose key file, a missing extra.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyrage import x25519  # type: ignore[import-untyped]
from test_cli_replicate_helpers import Daemon, fsreplica, tree, wait_for

from fsreplica.crypt import KEY_OBJECT, Secrets, open_encrypted, read_key_file
from fsreplica.crypt._apply import apply_encryption
from fsreplica.destinations.local import LocalDestination
from fsreplica.errors import IntegrityError

CANARY = "canary-7f3a9c0e-never-at-dest"


def key_file(path: Path, secret: str = "correct horse battery staple") -> Path:
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def init(dst: Path, key: Path, *extra: str) -> None:
    result = fsreplica("key", "init", dst, "--key-file", key, "--scrypt-log-n", "10", *extra)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stderr


def decrypted(dst: Path, key: Path) -> dict[str, bytes]:
    """Every file at DEST, opened with the key file (hidden names left out, as `tree` does)."""
    passphrase, identities = read_key_file(str(key))
    out = {}
    with open_encrypted(
        LocalDestination(dst, create=False),
        Secrets(passphrase=passphrase, identities=identities),
    ) as dest:
        for info in dest.list():
            if any(part.startswith(".") for part in info.key.split("/")):
                continue
            try:
                out[info.key] = b"".join(dest.read(info.key))
            except FileNotFoundError:
                continue  # deleted by a replicator between the listing and the read
    return out


def everything_at(root: Path) -> bytes:
    """Names, content and extended attributes of everything under `root`, as one blob."""
    blob = bytearray()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            blob += os.fsencode(path) + b"\n"
            for attr in os.listxattr(path, follow_symlinks=False):
                blob += attr.encode() + os.getxattr(path, attr, follow_symlinks=False)
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                blob += f.read()
    return bytes(blob)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "docs" / CANARY).mkdir(parents=True)
    (root / "docs" / "report.txt").write_text(f"the {CANARY} is here\n" * 100)
    (root / "docs" / CANARY / "inner.bin").write_bytes(os.urandom(200_000))
    (root / "empty").write_bytes(b"")
    (root / "big.bin").write_bytes(CANARY.encode() * 40_000)  # 1.2 MiB: many chunks
    return root


class TestRoundTrip:
    """sync and replicate with --encrypt give back the source byte for byte."""

    @pytest.mark.parametrize("names", [False, True], ids=["clear-names", "sealed-names"])
    def test_sync_renames_deletes(self, tmp_path: Path, src: Path, names: bool) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key, *(["--encrypt-names"] if names else []))
        args = ("--encrypt", "--key-file", key, "--state", tmp_path / "s.db")
        result = fsreplica("sync", src, dst, *args)
        assert result.returncode == 0, result.stderr
        assert decrypted(dst, key) == tree(src)
        (src / "docs" / "report.txt").rename(src / "docs" / "renamed.txt")
        (src / "empty").unlink()
        (src / "new.txt").write_text("new")
        result = fsreplica("sync", src, dst, *args)
        assert result.returncode == 0, result.stderr
        assert decrypted(dst, key) == tree(src)
        again = fsreplica("sync", src, dst, *args)
        assert "0 copied" in again.stderr, again.stderr  # nothing downloaded or sent again
        verify = fsreplica("verify", src, dst, "--encrypt", "--key-file", key)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        if names:
            listed = {p.name for p in dst.rglob("*")}
            assert not listed & {"docs", "renamed.txt", "new.txt", "big.bin"}

    def test_replicate_live(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        daemon = Daemon(tmp_path, src, dst, "--encrypt", "--key-file", str(key))
        try:
            daemon.wait_ready()
            (src / "live.txt").write_text(f"live {CANARY}")
            (src / "big.bin").rename(src / "moved.bin")
            (src / "docs" / "report.txt").unlink()
            wait_for(lambda: decrypted(dst, key) == tree(src), "the live changes at DEST")
            assert daemon.terminate() == 0, daemon.output()
        finally:
            daemon.close()
        blob = everything_at(dst)  # the canary names a directory, in clear: nowhere else
        assert blob.count(CANARY.encode()) == blob.count(b"/" + CANARY.encode())


class TestWhatDestHolds:
    """The destination holds no plaintext: not in content, names or metadata."""

    @pytest.mark.parametrize("names", [False, True], ids=["clear-names", "sealed-names"])
    def test_no_canary(self, tmp_path: Path, src: Path, names: bool) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key, *(["--encrypt-names"] if names else []))
        result = fsreplica("sync", src, dst, "--encrypt", "--key-file", key)
        assert result.returncode == 0, result.stderr
        blob = everything_at(dst)
        if names:
            assert CANARY.encode() not in blob
            assert b"report" not in blob
        else:  # names in clear: only the directory named after the canary shows it
            assert blob.count(CANARY.encode()) == blob.count(b"/" + CANARY.encode())
        assert b"correct horse" not in blob


class TestTampering:
    """verify finds each kind of tampering and names the key; nothing passes as identical."""

    def test_flip_truncate_swap_replay(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        for name in ("a", "b", "c", "d", "e"):
            (src / name).write_bytes(name.encode() * 100_000)
        args = ("--encrypt", "--key-file", key, "--state", tmp_path / "s.db")
        assert fsreplica("sync", src, dst, *args).returncode == 0
        old = (dst / "e").read_bytes(), os.stat(dst / "e")
        (src / "e").write_bytes(b"E" * 100_000)
        assert fsreplica("sync", src, dst, *args).returncode == 0
        # flip a bit in a; truncate b at a chunk boundary; swap c and d; put e's old version back
        data = bytearray((dst / "a").read_bytes())
        data[50_000] ^= 1
        (dst / "a").write_bytes(bytes(data))
        os.truncate(dst / "b", 32 + (64 * 1024 + 16))
        os.rename(dst / "c", dst / "tmp")
        os.rename(dst / "d", dst / "c")
        os.rename(dst / "tmp", dst / "d")
        (dst / "e").write_bytes(old[0])
        os.utime(dst / "e", ns=(old[1].st_atime_ns, old[1].st_mtime_ns))
        result = fsreplica("verify", src, dst, "--encrypt", "--key-file", key)
        assert result.returncode == 1
        lines = sorted(result.stdout.splitlines())
        assert [line.split(" (")[0] for line in lines] == [
            "content: a",
            "content: c",
            "content: d",
            "content: e",
            "size: b",
        ], lines
        assert "authentication failed" in lines[0]


class TestKeys:
    """Rotation, wrong keys, loose key files, a missing extra: one line, exit 2, nothing written."""

    def test_rotate(self, tmp_path: Path, src: Path) -> None:
        dst, old, new = tmp_path / "dst", key_file(tmp_path / "old"), tmp_path / "new"
        dst.mkdir()
        init(dst, old)
        assert fsreplica("sync", src, dst, "--encrypt", "--key-file", old).returncode == 0
        before = {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()}
        wrong = key_file(tmp_path / "wrong", "not it")
        refused = fsreplica("key", "rotate", dst, "--key-file", wrong, "--new-key-file", new)
        assert refused.returncode == 2
        assert refused.stderr == f"fsreplica: key {dst}: wrong passphrase or key\n"
        assert not new.exists()  # unlocked first: nothing made for a rotation that cannot be
        result = fsreplica(
            "key", "rotate", dst, "--key-file", old, "--new-key-file", new, "--scrypt-log-n", "10"
        )
        assert result.returncode == 0, result.stderr
        assert new.stat().st_mode & 0o777 == 0o600  # made with a random secret
        after = {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()}
        changed = {p.name for p in before if before[p] != after[p]}
        assert changed == {KEY_OBJECT}  # the data was not written again
        assert decrypted(dst, new) == tree(src)
        stale = fsreplica("verify", src, dst, "--encrypt", "--key-file", old)
        assert stale.returncode == 2
        assert stale.stderr.strip() == f"fsreplica: key {dst}: wrong passphrase or key"

    def test_wrong_passphrase_writes_nothing(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        snapshot = everything_at(dst)
        env = {**os.environ, "FSREPLICA_PASSPHRASE": "wrong"}
        state = tmp_path / "s.db"
        for command in ("sync", "replicate"):
            result = fsreplica(command, src, dst, "--encrypt", "--state", state, env=env)
            assert result.returncode == 2, result.stderr
            assert result.stderr == f"fsreplica: key {dst}: wrong passphrase or key\n"
        assert everything_at(dst) == snapshot
        assert not state.exists()

    def test_no_key_anywhere(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        env = {k: v for k, v in os.environ.items() if k != "FSREPLICA_PASSPHRASE"}
        result = fsreplica("sync", src, dst, "--encrypt", env=env)  # stdin is not a terminal
        assert result.returncode == 2
        assert "no key" in result.stderr

    def test_no_key_object(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        result = fsreplica("sync", src, dst, "--encrypt", "--key-file", key)
        assert result.returncode == 2
        assert "no encryption key at the destination" in result.stderr
        assert list(dst.iterdir()) == []
        missing = fsreplica("sync", src, tmp_path / "nowhere", "--encrypt", "--key-file", key)
        assert missing.returncode == 2
        assert not (tmp_path / "nowhere").exists()

    def test_loose_key_file(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        key.chmod(0o644)
        result = fsreplica("sync", src, dst, "--encrypt", "--key-file", key)
        assert result.returncode == 2
        assert (
            result.stderr == f"fsreplica: key {key}: others can use it (mode 0644): chmod 600 it\n"
        )

    def test_plain_copy_into_encrypted_dest_refused(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        snapshot = everything_at(dst)
        for extra in ((), ("--no-default-excludes",)):
            result = fsreplica("sync", src, dst, *extra)
            assert result.returncode == 2
            assert "the destination is encrypted: add --encrypt" in result.stderr
        assert everything_at(dst) == snapshot

    def test_missing_extra_fails_closed(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        snapshot = everything_at(dst)
        # cryptography cannot be imported: as if the crypt extra were not installed.
        code = (
            "import sys; sys.modules['cryptography'] = None; "
            "from fsreplica.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                "sync",
                str(src),
                str(dst),
                "--encrypt",
                "--key-file",
                str(key),
                "--state",
                str(tmp_path / "s.db"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 2
        assert "pip install 'fsreplica[crypt]'" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert everything_at(dst) == snapshot
        assert not (tmp_path / "s.db").exists()

    def test_age_identity_key_file(self, tmp_path: Path, src: Path) -> None:
        identity = x25519.Identity.generate()
        ident = key_file(tmp_path / "id.txt", f"# age identity\n{identity}")
        dst = tmp_path / "dst"
        dst.mkdir()
        result = fsreplica("key", "init", dst, "--recipient", str(identity.to_public()))
        assert result.returncode == 0, result.stderr
        assert fsreplica("sync", src, dst, "--encrypt", "--key-file", ident).returncode == 0
        assert decrypted(dst, ident) == tree(src)
        shown = fsreplica("key", "show", dst)
        assert "wrapped by: age" in shown.stdout
        assert str(identity) not in shown.stdout + (dst / KEY_OBJECT).read_text()
        shutil.rmtree(dst)


class TestReplay:
    """An older version put back authenticates; a reader given the state refuses it."""

    def test_replayed_version_refused_with_the_state(self, tmp_path: Path, src: Path) -> None:
        dst, key = tmp_path / "dst", key_file(tmp_path / "key")
        dst.mkdir()
        init(dst, key)
        state = tmp_path / "s.db"
        args = ("--encrypt", "--key-file", key, "--state", state)
        (src / "e").write_bytes(b"old " * 50_000)
        assert fsreplica("sync", src, dst, *args).returncode == 0
        old = (dst / "e").read_bytes(), os.stat(dst / "e")
        (src / "e").write_bytes(b"new " * 50_000)
        assert fsreplica("sync", src, dst, *args).returncode == 0
        (dst / "e").write_bytes(old[0])
        os.utime(dst / "e", ns=(old[1].st_atime_ns, old[1].st_mtime_ns))
        inner = LocalDestination(dst, create=False)
        with apply_encryption(inner, encrypt=True, key_file=str(key)) as blind:
            assert b"".join(blind.read("e")) == b"old " * 50_000  # authentic, but old
        inner = LocalDestination(dst, create=False)
        with apply_encryption(inner, encrypt=True, key_file=str(key), state=str(state)) as dest:
            got: list[bytes] = []
            with pytest.raises(IntegrityError, match="not the version the state records") as err:
                got.extend(dest.read("e"))
            assert err.value.key == "e"
            assert len(b"".join(got)) < 200_000  # the last chunk was never given
            assert b"".join(dest.read("big.bin")) == (src / "big.bin").read_bytes()


class TestRestore:
    """`fsreplica restore --encrypt`: byte for byte; what fails to authenticate is not written."""

    @pytest.mark.parametrize("names", [False, True], ids=["clear-names", "sealed-names"])
    def test_round_trip(self, tmp_path: Path, src: Path, names: bool) -> None:
        dst, key, target = tmp_path / "dst", key_file(tmp_path / "key"), tmp_path / "target"
        dst.mkdir()
        target.mkdir()
        init(dst, key, *(["--encrypt-names"] if names else []))
        assert fsreplica("sync", src, dst, "--encrypt", "--key-file", key).returncode == 0
        result = fsreplica("restore", dst, target, "--encrypt", "--key-file", key)
        assert result.returncode == 0, result.stderr
        assert tree(target) == tree(src)
        assert list(target.rglob(".*")) == []  # neither the key object nor a temporary file
        for path in src.rglob("*"):
            if path.is_file():
                restored = target / path.relative_to(src)
                assert restored.stat().st_mtime_ns == path.stat().st_mtime_ns

    def test_tampered_objects_refused(self, tmp_path: Path, src: Path) -> None:
        dst, key, target = tmp_path / "dst", key_file(tmp_path / "key"), tmp_path / "target"
        dst.mkdir()
        target.mkdir()
        init(dst, key)
        for name in ("a", "b", "c", "d", "e"):
            (src / name).write_bytes(name.encode() * 100_000)
        state = tmp_path / "s.db"
        args = ("--encrypt", "--key-file", key, "--state", state)
        assert fsreplica("sync", src, dst, *args).returncode == 0
        old = (dst / "e").read_bytes(), os.stat(dst / "e")
        (src / "e").write_bytes(b"E" * 100_000)
        assert fsreplica("sync", src, dst, *args).returncode == 0
        data = bytearray((dst / "a").read_bytes())
        data[70_000] ^= 1
        (dst / "a").write_bytes(bytes(data))
        os.truncate(dst / "b", 32 + (64 * 1024 + 16))
        os.rename(dst / "c", dst / "tmp")
        os.rename(dst / "d", dst / "c")
        os.rename(dst / "tmp", dst / "d")
        (dst / "e").write_bytes(old[0])
        os.utime(dst / "e", ns=(old[1].st_atime_ns, old[1].st_mtime_ns))
        result = fsreplica("restore", dst, target, "--encrypt", "--key-file", key, "--state", state)
        assert result.returncode == 1, result.stderr
        refused = sorted(
            line.split(":")[1].split()[1]
            for line in result.stderr.splitlines()
            if line.startswith("fsreplica: restore ")
        )
        assert refused == ["a", "b", "c", "d", "e"], result.stderr
        assert "authentication failed" in result.stderr
        assert "truncated" in result.stderr
        assert "not the version the state records" in result.stderr
        restored = tree(target)
        assert not restored.keys() & {"a", "b", "c", "d", "e"}  # nothing written for them
        assert restored == {k: v for k, v in tree(src).items() if k not in "abcde"}
        # No temporary file left (the marker of an unfinished restore stays, by design).
        assert [p.name for p in target.rglob(".fsreplica-restore-*")] == []

    def test_plain_restore_of_encrypted_refused(self, tmp_path: Path, src: Path) -> None:
        dst, key, target = tmp_path / "dst", key_file(tmp_path / "key"), tmp_path / "target"
        dst.mkdir()
        target.mkdir()
        init(dst, key)
        assert fsreplica("sync", src, dst, "--encrypt", "--key-file", key).returncode == 0
        result = fsreplica("restore", dst, target)
        assert result.returncode == 2
        assert "the destination is encrypted: add --encrypt" in result.stderr
        wrong = fsreplica(
            "restore", dst, target, "--encrypt", env={**os.environ, "FSREPLICA_PASSPHRASE": "no"}
        )
        assert wrong.returncode == 2
        assert wrong.stderr == f"fsreplica: key {dst}: wrong passphrase or key\n"
        assert list(target.iterdir()) == []
