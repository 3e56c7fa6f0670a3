"""The key object: wrapping, unlocking, rotating; key files; the wrapper's view of names."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from pyrage import x25519  # type: ignore[import-untyped]

from fsreplica.crypt import (
    KEY_OBJECT,
    Secrets,
    init_key,
    open_encrypted,
    read_key_file,
    read_key_object,
    rotate_key,
    unlock_destination,
)
from fsreplica.destinations import SourceFile
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import EncryptionKeyError, InvalidKeyError

PASS = Secrets(passphrase=b"one", scrypt_log_n=10)


def put(dest: object, tmp_path: Path, key: str, data: bytes) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    with SourceFile(str(path)) as source:
        dest.put(key, source)  # type: ignore[attr-defined]


class TestKeyObject:
    """init, unlock, rotate."""

    def test_wrong_passphrase(self) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        with pytest.raises(EncryptionKeyError, match="wrong passphrase or key"):
            unlock_destination(inner, Secrets(passphrase=b"two"))

    def test_no_key_object(self) -> None:
        with pytest.raises(EncryptionKeyError, match="no encryption key"):
            unlock_destination(MemoryDestination(), PASS)

    def test_init_twice_or_into_a_full_destination(self, tmp_path: Path) -> None:
        inner = MemoryDestination()
        put(inner, tmp_path, "plain.txt", b"x")
        with pytest.raises(EncryptionKeyError, match="holds files already"):
            init_key(inner, PASS)
        inner = MemoryDestination()
        init_key(inner, PASS)
        with pytest.raises(EncryptionKeyError, match="has a key already"):
            init_key(inner, PASS)

    def test_age_recipients(self) -> None:
        identity = x25519.Identity.generate()
        inner = MemoryDestination()
        made = init_key(inner, Secrets(recipients=(str(identity.to_public()),)))
        opened = unlock_destination(inner, Secrets(identities=(str(identity),)))
        assert opened.key_id == made.key_id
        with pytest.raises(EncryptionKeyError, match="wrapped by"):
            unlock_destination(inner, PASS)  # a passphrase, but no passphrase wrap
        other = x25519.Identity.generate()
        with pytest.raises(EncryptionKeyError, match="wrong passphrase or key"):
            unlock_destination(inner, Secrets(identities=(str(other),)))

    def test_rotate_keeps_the_data_key(self, tmp_path: Path) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        dest = open_encrypted(inner, PASS)
        put(dest, tmp_path, "a.txt", b"secret")
        stored = inner.content("a.txt")
        new = Secrets(passphrase=b"two", scrypt_log_n=10)
        rotate_key(inner, PASS, new)
        assert inner.content("a.txt") == stored  # nothing re-uploaded
        with pytest.raises(EncryptionKeyError, match="wrong passphrase"):
            unlock_destination(inner, PASS)
        again = open_encrypted(inner, new)
        assert b"".join(again.read("a.txt")) == b"secret"

    def test_altered_parameters_refused(self) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        document = read_key_object(inner)
        assert document is not None
        doc = json.loads(document)
        doc["encrypt_names"] = True
        path = inner  # the memory destination stores what it is given
        path._objects[KEY_OBJECT] = (json.dumps(doc).encode(), path._objects[KEY_OBJECT][1])
        with pytest.raises(EncryptionKeyError, match="altered"):
            unlock_destination(inner, PASS)

    def test_no_secret_in_the_key_object(self) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        assert b"one" not in (read_key_object(inner) or b"")


class TestKeyFile:
    """Key files: 0600 or refused; passphrase or age identities."""

    def test_loose_mode_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "key"
        path.write_text("pw\n")
        for mode in (0o644, 0o640, 0o604, 0o620):
            path.chmod(mode)
            with pytest.raises(EncryptionKeyError, match="chmod 600"):
                read_key_file(str(path))
        path.chmod(0o600)
        assert read_key_file(str(path)) == (b"pw", ())
        path.chmod(0o400)
        assert read_key_file(str(path)) == (b"pw", ())

    def test_symlink_refused(self, tmp_path: Path) -> None:
        target = tmp_path / "key"
        target.write_text("pw")
        target.chmod(0o600)
        (tmp_path / "link").symlink_to(target)
        with pytest.raises(EncryptionKeyError):
            read_key_file(str(tmp_path / "link"))

    def test_identities(self, tmp_path: Path) -> None:
        identity = str(x25519.Identity.generate())
        path = tmp_path / "key"
        path.write_text(f"# created: now\n# public key: age1...\n{identity}\n")
        path.chmod(0o600)
        assert read_key_file(str(path)) == (None, (identity,))


class TestNames:
    """The wrapper's keys: sealed names, hidden key object, names that are not ours."""

    def test_sealed_names_hidden_and_listed_in_order(self, tmp_path: Path) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS, encrypt_names=True)
        dest = open_encrypted(inner, PASS)
        keys = ["z", "a/secret-name.txt", "a/b/c", "m\udcff"]
        for key in keys:
            put(dest, tmp_path, key, key.encode("utf-8", "surrogateescape"))
        stored = [key for key in inner.keys() if key != KEY_OBJECT]  # noqa: SIM118
        assert not any("secret" in key or key in keys for key in stored)
        assert [info.key for info in dest.list()] == sorted(keys)
        assert [info.key for info in dest.list("a/")] == ["a/b/c", "a/secret-name.txt"]
        put(inner, tmp_path, "stranger", b"not ours")
        assert "stranger" not in [info.key for info in dest.list()]
        assert len(list(dest.list())) == len(keys)

    def test_key_object_name_refused_in_clear(self, tmp_path: Path) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        dest = open_encrypted(inner, PASS)
        with pytest.raises(InvalidKeyError):
            put(dest, tmp_path, KEY_OBJECT, b"x")
        assert [info.key for info in dest.list()] == []

    def test_sizes_and_hashes_are_the_plaintexts(self, tmp_path: Path) -> None:
        inner = MemoryDestination()
        init_key(inner, PASS)
        dest = open_encrypted(inner, PASS)
        data = os.urandom(100_000)
        put(dest, tmp_path, "f", data)
        info = dest.stat("f")
        assert info.size == len(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert inner.stat("f").sha256 != info.sha256  # the stored hash is sealed
        assert inner.stat("f").size > len(data)
