"""A daemon policy with `mode = "transparent"`: encrypted for its destination, keys per policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_helpers import DaemonProcess, daemon_environ, policy_table, wait_for

from fsreplica.crypt import Secrets, init_key, open_encrypted
from fsreplica.daemon.config import load_config, policy_from_mapping
from fsreplica.daemon.manager import Manager
from fsreplica.destinations.local import LocalDestination
from fsreplica.errors import InvalidPolicy

CANARY = b"canary-of-the-daemon-test"


def key_file(path: Path, secret: str) -> Path:
    path.write_text(secret)
    path.chmod(0o600)
    return path


def encrypted_dest(path: Path) -> Path:
    path.mkdir()
    init_key(LocalDestination(path), Secrets(passphrase=b"right", scrypt_log_n=10))
    return path


def opened(dst: Path, secret: str) -> dict[str, bytes]:
    out = {}
    with open_encrypted(
        LocalDestination(dst, create=False), Secrets(passphrase=secret.encode())
    ) as dest:
        for info in dest.list():
            try:
                out[info.key] = b"".join(dest.read(info.key))
            except FileNotFoundError:
                continue  # deleted between the listing and the read
    return out


class TestTransparent:
    """Transparent policies encrypt; a wrong key fails its policy only, writing nothing."""

    def test_daemon_process(self, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        dst = encrypted_dest(tmp_path / "dst")
        config = tmp_path / "config.toml"
        key = key_file(tmp_path / "k", "right")
        config.write_text(
            policy_table(
                "enc", tmp_path / "src", dst, mode="transparent", key_file=str(key), debounce=0.05
            )
        )
        with DaemonProcess(tmp_path, config, env=daemon_environ(tmp_path)) as daemon:
            daemon.wait_started()
            (tmp_path / "src" / "a.txt").write_bytes(CANARY)
            wait_for(lambda: opened(dst, "right") == {"a.txt": CANARY}, "the encrypted copy")
            assert daemon.terminate() == 0
        assert CANARY not in (dst / "a.txt").read_bytes()

    def test_failures_are_per_policy(self, tmp_path: Path, environ: dict[str, str]) -> None:
        for name in ("s-good", "s-wrong", "s-plain"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "x.txt").write_bytes(CANARY)
        good, wrong, plain = (encrypted_dest(tmp_path / name) for name in ("g", "w", "p"))
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table(
                "good",
                tmp_path / "s-good",
                good,
                mode="transparent",
                key_file=str(key_file(tmp_path / "good.key", "right")),
            )
            + policy_table(
                "wrong",
                tmp_path / "s-wrong",
                wrong,
                mode="transparent",
                key_file=str(key_file(tmp_path / "wrong.key", "wrong")),
            )
            + policy_table("plain", tmp_path / "s-plain", plain)
        )
        with Manager(str(config)) as manager:
            manager.start()
            for policy_id in ("good", "wrong", "plain"):
                wanted = "live" if policy_id == "good" else "failed"
                wait_for(
                    lambda p=policy_id, w=wanted: manager.policy_status(p).state == w,
                    f"{policy_id} {wanted}",
                )
            assert "wrong passphrase or key" in (manager.policy_status("wrong").detail or "")
            assert "add --encrypt" in (manager.policy_status("plain").detail or "")
        assert opened(good, "right") == {"x.txt": CANARY}
        assert not (wrong / "x.txt").exists()
        assert not (plain / "x.txt").exists()


class TestConfig:
    """The mode and key_file fields."""

    def test_fields(self, tmp_path: Path) -> None:
        config = tmp_path / "c.toml"
        config.write_text(
            policy_table("a", "/src", "/dst", mode="transparent", key_file="/etc/k")
            + policy_table("b", "/src2", "/dst2")
        )
        first, second = load_config(config).policies
        assert (first.mode, first.key_file) == ("transparent", "/etc/k")
        assert (second.mode, second.key_file) == ("opaque", None)

    @pytest.mark.parametrize(("field", "value"), [("mode", "secret"), ("key_file", "rel/k")])
    def test_bad_values(self, tmp_path: Path, field: str, value: str) -> None:
        with pytest.raises(InvalidPolicy, match=field):
            policy_from_mapping({"id": "a", "source": "/s", "destination": "/d", field: value})
