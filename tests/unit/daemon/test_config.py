"""The daemon's config file: what it reads, and the one `PATH:LINE: reason` line when it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fsreplica.daemon.config import (
    load_config,
    parse_duration,
    policy_from_mapping,
    policy_to_mapping,
)
from fsreplica.daemon.control import DEFAULT_POLICY_SCAN_INTERVAL, Policy
from fsreplica.daemon.paths import default_socket_path
from fsreplica.errors import ConfigError, InvalidPolicy

GOOD = """\
# backups
[daemon]
socket = "/run/fsreplica/fsreplica.sock"
metrics = "127.0.0.1:9464"

[[policy]]
id = "docs"
source = "/srv/docs"
destination = "s3://backup/docs"
scan_interval = "1h30m"
exclude = ["*.log"]
debounce = 0.2
transfers = 8
delete = true
max_delete = 100

[[policy]]
id = "photos"
source = "~/photos"
destination = "/mnt/backup/photos"
enabled = false
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


class TestGoodConfig:
    """A config file as the issue shows it."""

    def test_every_field_is_read(self, tmp_path: Path) -> None:
        config = load_config(write(tmp_path, GOOD))
        assert config.settings.socket == "/run/fsreplica/fsreplica.sock"
        assert config.settings.metrics == "127.0.0.1:9464"
        docs, photos = config.policies
        assert docs == Policy(
            id="docs",
            source="/srv/docs",
            destination="s3://backup/docs",
            scan_interval=5400.0,
            exclude=("*.log",),
            debounce=0.2,
            transfers=8,
            delete=True,
            max_delete=100,
        )
        assert photos.source == os.path.expanduser("~/photos")
        assert photos.destination == "/mnt/backup/photos"
        assert photos.enabled is False
        assert photos.scan_interval == DEFAULT_POLICY_SCAN_INTERVAL

    def test_an_empty_file_has_the_default_socket_and_no_policy(self, tmp_path: Path) -> None:
        config = load_config(write(tmp_path, ""))
        assert config.settings.socket == default_socket_path()
        assert config.policies == ()

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("1h", 3600), ("30m", 1800), ("90s", 90), ("1h30m", 5400), (90, 90), (0.5, 0.5)],
    )
    def test_durations(self, text: str | float, seconds: float) -> None:
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["", "1d", "h", "-5", True, -1, "1m1h"])
    def test_bad_durations(self, text: object) -> None:
        with pytest.raises(ValueError):
            parse_duration(text)


class TestErrorLines:
    """Each error is one line naming the file and the line of the key concerned."""

    def test_unknown_key_in_a_policy(self, tmp_path: Path) -> None:
        text = GOOD.replace("transfers = 8", "transfer = 8")
        assert error_of(tmp_path, text) == f"{tmp_path}/config.toml:13: unknown field 'transfer'"

    def test_unknown_key_in_daemon(self, tmp_path: Path) -> None:
        text = GOOD.replace('metrics = "127', 'metric = "127')
        assert (
            error_of(tmp_path, text)
            == f"{tmp_path}/config.toml:4: unknown key 'metric' in [daemon]"
        )

    def test_unknown_table(self, tmp_path: Path) -> None:
        text = GOOD + "\n[policies]\nx = 1\n"
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:23: unknown key 'policies' (a policy is a [[policy]] table)"
        )

    def test_wrong_type(self, tmp_path: Path) -> None:
        text = GOOD.replace("transfers = 8", 'transfers = "8"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:13: transfers: expected a whole number of 1 or more"
        )

    def test_a_bool_is_not_a_number(self, tmp_path: Path) -> None:
        text = GOOD.replace("max_delete = 100", "max_delete = true")
        assert error_of(tmp_path, text).startswith(f"{tmp_path}/config.toml:15: max_delete:")

    def test_duplicate_id(self, tmp_path: Path) -> None:
        text = GOOD.replace('id = "photos"', 'id = "docs"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:18: duplicate policy id 'docs' (first at line 6)"
        )

    def test_bad_id(self, tmp_path: Path) -> None:
        text = GOOD.replace('id = "photos"', 'id = "My Photos"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:18: id: 'My Photos' is not a policy id ([a-z0-9][a-z0-9_.-]*)"
        )

    def test_bad_duration(self, tmp_path: Path) -> None:
        text = GOOD.replace('"1h30m"', '"an hour"')
        assert error_of(tmp_path, text).startswith(
            f"{tmp_path}/config.toml:10: scan_interval: 'an hour' is not a duration"
        )

    def test_missing_field_names_the_table(self, tmp_path: Path) -> None:
        text = GOOD.replace('destination = "/mnt/backup/photos"\n', "")
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:17: missing field 'destination'"
        )

    def test_relative_source(self, tmp_path: Path) -> None:
        text = GOOD.replace('"~/photos"', '"photos"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:19: source: 'photos' is not an absolute path"
        )

    def test_same_source_and_destination_twice(self, tmp_path: Path) -> None:
        text = (
            GOOD
            + '\n[[policy]]\nid = "again"\nsource = "/srv/docs"\ndestination = "s3://backup/docs/"\n'
        )
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:26: policy 'again' has the same source and destination "
            "as 'docs'"
        )

    def test_api_needs_a_token_file(self, tmp_path: Path) -> None:
        text = GOOD.replace('metrics = "127.0.0.1:9464"', 'api = "127.0.0.1:8765"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:4: api: needs token_file (the bearer token's file)"
        )

    def test_bad_address(self, tmp_path: Path) -> None:
        text = GOOD.replace('"127.0.0.1:9464"', '"localhost"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:4: metrics: 'localhost' is not host:port"
        )

    def test_bad_lease_ttl(self, tmp_path: Path) -> None:
        text = GOOD.replace('metrics = "127.0.0.1:9464"', 'lease_ttl = "0s"')
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:4: lease_ttl: must be more than 0"
        )
        text = GOOD.replace('metrics = "127.0.0.1:9464"', 'lease_ttl = "90s"')
        assert load_config(write(tmp_path, text)).settings.lease_ttl == 90

    def test_toml_syntax_error_keeps_its_line(self, tmp_path: Path) -> None:
        text = GOOD.replace("debounce = 0.2", "debounce = ")
        assert error_of(tmp_path, text) == (
            f"{tmp_path}/config.toml:12: not valid TOML: invalid value"
        )

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_bytes(b"# ok\n# caf\xe9\n")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value) == f"{path}:2: not UTF-8"


class TestMappings:
    """What the API's request bodies go through."""

    def test_round_trip(self) -> None:
        policy = Policy(id="a", source="/s", destination="s3://b/p", exclude=("*.tmp",))
        assert policy_from_mapping(policy_to_mapping(policy)) == policy
        assert policy_to_mapping(policy, defaults=False) == {
            "id": "a",
            "source": "/s",
            "destination": "s3://b/p",
            "exclude": ["*.tmp"],
        }

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"id": "a", "source": "/s"}, "destination"),
            ({"id": "a", "source": "/s", "destination": "/d", "colour": "red"}, "colour"),
            ({"id": "a", "source": "/s", "destination": "/d", "transfers": 0}, "transfers"),
            ({"id": "A", "source": "/s", "destination": "/d"}, "id"),
            ({"id": "a", "source": "s", "destination": "/d"}, "source"),
            ({"id": "a", "source": "/s", "destination": "d"}, "destination"),
            ({"id": "a", "source": "/s", "destination": "/d", "exclude": "*.log"}, "exclude"),
        ],
    )
    def test_invalid_names_the_field(self, body: dict[str, object], field: str) -> None:
        with pytest.raises(InvalidPolicy) as caught:
            policy_from_mapping(body)
        assert caught.value.detail == field
        assert caught.value.status == 422
