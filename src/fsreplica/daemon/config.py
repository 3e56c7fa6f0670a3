"""The daemon's config file: a `[daemon]` table and one `[[policy]]` table per SRC/DEST pair.

Read with the standard library's `tomllib`; every problem is one `PATH:LINE: reason` line (an
unknown key, a wrong type, a bad or duplicate id, a bad duration), its line found in the text.
The same checks serve the API's request bodies (`policy_from_mapping`, raising `InvalidPolicy`
with the field in `detail`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from fsreplica._oserrors import cause_of
from fsreplica.daemon.control import POLICY_ID, Policy
from fsreplica.daemon.lease import DEFAULT_LEASE_TTL
from fsreplica.daemon.paths import default_socket_path
from fsreplica.destinations import parse_location
from fsreplica.errors import ConfigError, InvalidPolicy


@dataclasses.dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    """The `[daemon]` table.

    Attributes:
        socket: The control API's Unix socket.
        metrics: "host:port" of the Prometheus listener, or None.
        api: "host:port" of the API's TCP listener (bearer token required), or None.
        token_file: The file holding that token (0600); required with `api`.
        lease_ttl: Seconds a destination's lease lasts without renewal (another daemon given
            the same destination takes over once it lapses).
    """

    socket: str = dataclasses.field(default_factory=default_socket_path)
    metrics: str | None = None
    api: str | None = None
    token_file: str | None = None
    lease_ttl: float = DEFAULT_LEASE_TTL


@dataclasses.dataclass(frozen=True, kw_only=True)
class DaemonConfig:
    """A config file as read.

    Attributes:
        path: The file.
        settings: Its `[daemon]` table.
        policies: Its policies, in file order.
    """

    path: str
    settings: DaemonSettings
    policies: tuple[Policy, ...]


_FIELDS = {field.name: field for field in dataclasses.fields(Policy)}
_REQUIRED = ("id", "source", "destination")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(value: object) -> float:
    """Read a duration: a number of seconds, or a text like "1h", "30m", "90s", "1h30m".

    Raises:
        ValueError: Anything else (negative, not finite, a bool, a bad unit).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("not a duration")
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if not value.strip() or match is None:
            raise ValueError(f"{value!r} is not a duration (like 90s, 30m, 1h, 1h30m)")
        hours, minutes, secs = (float(part or 0) for part in match.groups())
        return hours * 3600 + minutes * 60 + secs
    seconds = float(value)
    if not (0 <= seconds < math.inf):
        raise ValueError(f"{value!r} is not a duration (0 or more seconds)")
    return seconds


def format_duration(seconds: float) -> str | float:
    """Write `seconds` as the config file spells it ("1h30m"), or as a number if not whole."""
    if seconds != int(seconds) or seconds <= 0:
        return seconds
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs else "")


def _absolute(field: str, text: str) -> str:
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        raise InvalidPolicy(f"{field}: {text!r} is not an absolute path", detail=field)
    return os.path.normpath(path)


def _check(field: str, value: object) -> object:  # noqa: PLR0911 - one return per kind
    """Check one field of a policy and return its value as `Policy` holds it."""
    bad = f"{field}: expected "
    if field == "mode":
        if value not in ("opaque", "transparent"):
            raise InvalidPolicy(bad + '"opaque" or "transparent"', detail=field)
        return value
    if field in ("id", "source", "destination", "state", "endpoint_url", "region", "key_file"):
        if not isinstance(value, str) or not value:
            raise InvalidPolicy(bad + "a non-empty string", detail=field)
        if field == "id" and not POLICY_ID.fullmatch(value):
            raise InvalidPolicy(
                f"id: {value!r} is not a policy id ([a-z0-9][a-z0-9_.-]*)", detail=field
            )
        if field in ("source", "state", "key_file"):
            return _absolute(field, value)
        if field == "destination" and "://" not in value:
            return _absolute(field, value)  # a local path
        return value
    if field in ("enabled", "delete", "links", "checksum"):
        if not isinstance(value, bool):
            raise InvalidPolicy(bad + "true or false", detail=field)
        return value
    if field in ("scan_interval", "debounce"):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise InvalidPolicy(f"{field}: {exc}", detail=field) from None
        if field == "scan_interval" and seconds <= 0:
            raise InvalidPolicy(f"{field}: must be more than 0", detail=field)
        return seconds
    if field in ("transfers", "max_delete"):
        low = 1 if field == "transfers" else -1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidPolicy(bad + f"a whole number of {low} or more", detail=field)
        return value
    if field == "exclude":
        if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
            raise InvalidPolicy(bad + "a list of strings", detail=field)
        return tuple(value)
    raise InvalidPolicy(f"unknown field {field!r}", detail=field)  # pragma: no cover


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build a Policy from a mapping (a `[[policy]]` table, an API request body).

    Durations may be numbers of seconds or texts like "1h30m"; `~` in paths is expanded; a
    None value means the field's default.

    Raises:
        InvalidPolicy: A field is unknown, missing, of the wrong type or value; `detail` names it.
    """
    if not isinstance(data, Mapping):
        raise InvalidPolicy("a policy must be a table of fields")
    values: dict[str, Any] = {}
    for field, value in data.items():
        if field not in _FIELDS:
            raise InvalidPolicy(f"unknown field {field!r}", detail=field)
        if value is None and field not in _REQUIRED:
            continue
        values[field] = _check(field, value)
    for field in _REQUIRED:
        if field not in values:
            raise InvalidPolicy(f"missing field {field!r}", detail=field)
    return Policy(**values)


def policy_to_mapping(policy: Policy, *, defaults: bool = True) -> dict[str, Any]:
    """The fields of `policy` as plain values (exclude as a list, durations in seconds).

    Args:
        policy: The policy.
        defaults: Include fields whose value is the default (False: only what was set).
    """
    out: dict[str, Any] = {}
    for name, field in _FIELDS.items():
        value = getattr(policy, name)
        if not defaults and name not in _REQUIRED and value == field.default:
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _address(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f'{key}: expected "host:port"')
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{key}: {value!r} is not host:port")
    return value


def _settings(table: object, lines: _Lines) -> DaemonSettings:
    if not isinstance(table, dict):
        raise lines.error("daemon: expected a table", ("daemon",))
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = ("daemon", 0, key)
        if key in ("socket", "token_file"):
            if not isinstance(value, str) or not value:
                raise lines.error(f"{key}: expected a non-empty string", where)
            path = os.path.expanduser(value)
            if not os.path.isabs(path):
                raise lines.error(f"{key}: {value!r} is not an absolute path", where)
            values[key] = path
        elif key == "lease_ttl":
            try:
                values[key] = parse_duration(value)
            except ValueError as exc:
                raise lines.error(f"{key}: {exc}", where) from None
            if values[key] <= 0:
                raise lines.error(f"{key}: must be more than 0", where)
        elif key in ("metrics", "api"):
            try:
                values[key] = _address(key, value)
            except ValueError as exc:
                raise lines.error(str(exc), where) from None
        else:
            raise lines.error(f"unknown key {key!r} in [daemon]", where)
    if values.get("api") and not values.get("token_file"):
        raise lines.error("api: needs token_file (the bearer token's file)", ("daemon", 0, "api"))
    return DaemonSettings(**values)


class _Lines:
    """Where each table and key of a TOML text is, found by a scan of its lines.

    Enough for the error lines of a hand-written config: `[table]`, `[[array]]` and `key =`
    lines at the start of a line (a key inside a multi-line string may mislead it; the error
    then names the table's line or the first line of the file).
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]")
    _KEY = re.compile(r"""\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.at: dict[tuple[object, ...], int] = {}
        table: tuple[object, ...] = ()
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                name = header.group(2)
                index = counts.get(name, -1) + 1 if header.group(1) == "[[" else 0
                counts[name] = index
                table = (name, index)
                self.at.setdefault(table, number)
                self.at.setdefault((name,), number)
            elif key := self._KEY.match(line):
                name = next(group for group in key.groups() if group)
                self.at.setdefault((*table, name), number)

    def line(self, where: tuple[object, ...]) -> int | None:
        """The line of a key (table, index, key), else of its table, else None."""
        while where:
            if where in self.at:
                return self.at[where]
            where = where[:-1]
        return None

    def error(self, reason: str, where: tuple[object, ...] = ()) -> ConfigError:
        return ConfigError(self.path, reason, line=self.line(where))


_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def parse_config(text: str, *, path: str) -> DaemonConfig:
    """Read a config file's text.

    Raises:
        ConfigError: The text is not TOML, or something in it is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        line = int(at.group(1)) if at else None
        reason = _TOML_AT.sub("", message) if at else message
        reason = f"not valid TOML: {reason[:1].lower()}{reason[1:]}"
        raise ConfigError(path, reason, line=line) from None
    lines = _Lines(path, text)
    for key in data:
        if key not in ("daemon", "policy"):
            hint = " (a policy is a [[policy]] table)" if key == "policies" else ""
            raise lines.error(f"unknown key {key!r}{hint}", (key,))
    settings = _settings(data.get("daemon", {}), lines)
    tables = data.get("policy", [])
    if not isinstance(tables, list):
        raise lines.error("policy: expected [[policy]] tables", ("policy",))
    policies: list[Policy] = []
    seen: dict[str, int] = {}
    pairs: dict[tuple[str, str], str] = {}
    for index, table in enumerate(tables):
        try:
            policy = policy_from_mapping(table)
        except InvalidPolicy as exc:
            where = ("policy", index, exc.detail) if exc.detail else ("policy", index)
            raise lines.error(exc.reason, where) from None
        first = seen.get(policy.id)
        if first is not None:
            first_line = lines.line(("policy", first))
            raise lines.error(
                f"duplicate policy id {policy.id!r} (first at line {first_line})",
                ("policy", index, "id"),
            )
        seen[policy.id] = index
        pair = pair_of(policy)
        if (other := pairs.get(pair)) is not None:
            raise lines.error(
                f"policy {policy.id!r} has the same source and destination as {other!r}",
                ("policy", index, "destination"),
            )
        pairs[pair] = policy.id
        policies.append(policy)
    return DaemonConfig(path=path, settings=settings, policies=tuple(policies))


def pair_of(policy: Policy) -> tuple[str, str]:
    """What two policies must not share: the source and the destination (one state file)."""
    location = parse_location(policy.destination)
    dest = location.path if location.path is not None else policy.destination.rstrip("/")
    return os.path.normpath(policy.source), dest


def load_config(path: str | os.PathLike[str]) -> DaemonConfig:
    """Read the config file at `path`.

    Raises:
        FileNotFoundError: There is no such file.
        ConfigError: It cannot be read, or something in it is wrong.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(name, cause_of(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(name, "not UTF-8", line=line) from None
    return parse_config(text, path=name)
