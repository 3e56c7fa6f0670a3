"""Writing policy changes back to the config file, keeping the user's comments and layout.

Changes made through the API are edits of one `[[policy]]` table in the file as it is now
(`tomlkit` keeps every comment, blank line and key order), written atomically: a temporary file
in the same directory, flushed to disk, renamed over the old one. The file is 0600; a directory
created for it is 0700.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fsreplica._oserrors import cause_of
from fsreplica.daemon.config import format_duration, policy_from_mapping, policy_to_mapping
from fsreplica.daemon.control import Policy
from fsreplica.errors import ConfigError, InvalidPolicy

if TYPE_CHECKING:
    from tomlkit.container import Container

_DURATIONS = ("scan_interval",)


def _tomlkit() -> Any:
    """The tomlkit module (the daemon extra), imported when a change is written."""
    try:
        import tomlkit  # noqa: PLC0415 - the daemon extra, only to write the file
    except ImportError as exc:  # pragma: no cover - without the extra
        raise ImportError(
            "writing the daemon's config needs tomlkit: pip install 'fsreplica[daemon]'"
        ) from exc
    return tomlkit


def add_policy(path: str, policy: Policy) -> None:
    """Append `policy` as a new `[[policy]]` table."""
    _edit(path, lambda doc: _append(doc, policy))


def replace_policy(path: str, policy: Policy) -> None:
    """Rewrite the table of the policy with `policy.id`, or append it if absent.

    Keys that already say what the policy holds are left as written; fields back at their
    default are removed; changed ones are set in place; new ones go after its last key.
    """

    def edit(doc: Any) -> None:
        tables = _tables(doc)
        for table in tables:
            if table.get("id") == policy.id:
                _update(table, policy)
                return
        _append(doc, policy)

    _edit(path, edit)


def remove_policy(path: str, policy_id: str) -> None:
    """Remove the table of the policy `policy_id`, with the comments just above it."""

    def edit(doc: Any) -> None:
        tables = _tables(doc)
        index = next((i for i, t in enumerate(tables) if t.get("id") == policy_id), None)
        if index is None:
            return
        table = tables[index]
        # Comments just above a table's header belong, for tomlkit, to what precedes it: they
        # go with the table they describe, and the removed table's last ones (about the next
        # table) stay.
        before = tables[index - 1].value if index else _before(doc, tables)
        kept = _trailing(table.value)
        if before is not None:
            _set_trailing(before, kept)
        del tables[index]
        if not tables:
            del doc["policy"]

    _edit(path, edit)


def _tables(doc: Any) -> Any:
    tables = doc.get("policy")
    if tables is None:
        return []
    from tomlkit.items import AoT  # noqa: PLC0415 - the daemon extra

    if not isinstance(tables, AoT):
        raise ValueError("policy is not an array of [[policy]] tables")
    return tables


def _before(doc: Any, tables: Any) -> Container | None:
    """The container just above the first `[[policy]]` table (e.g. `[daemon]`), if a table."""
    from tomlkit.items import Table  # noqa: PLC0415 - the daemon extra

    previous = None
    for _key, item in doc.body:
        if item is tables:
            break
        previous = item
    return previous.value if isinstance(previous, Table) else None


def _trailing(container: Container) -> list[tuple[Any, Any]]:
    body = container.body
    last = max((i for i, (key, _) in enumerate(body) if key is not None), default=-1)
    return body[last + 1 :]


def _set_trailing(container: Container, items: list[tuple[Any, Any]]) -> None:
    body = container.body
    last = max((i for i, (key, _) in enumerate(body) if key is not None), default=-1)
    del body[last + 1 :]
    body.extend(items)


def _values(policy: Policy) -> dict[str, Any]:
    values = policy_to_mapping(policy, defaults=False)
    for name in _DURATIONS:
        if name in values:
            values[name] = format_duration(values[name])
    return values


def _append(doc: Any, policy: Policy) -> None:
    tomlkit = _tomlkit()
    table = tomlkit.table()
    for key, value in _values(policy).items():
        table[key] = value
    tables = doc.get("policy")
    if tables is None:
        tables = tomlkit.aot()
        doc.append("policy", tables)
    elif len(tables):
        from tomlkit.items import Whitespace  # noqa: PLC0415 - the daemon extra

        last = tables[len(tables) - 1].value
        trailing = _trailing(last)
        if not trailing or not isinstance(trailing[-1][1], Whitespace):
            last.body.append((None, tomlkit.ws("\n")))  # a blank line between tables
    tables.append(table)


def _update(table: Any, policy: Policy) -> None:
    values = _values(policy)
    for key in list(table):
        if _same(key, table[key], policy):
            values.pop(key, None)  # as the user wrote it (a default spelt out, "60m")
        elif key not in values:
            del table[key]
    container: Container = table.value
    for key, value in values.items():
        if key in table:
            table[key] = value
            continue
        body = container.body
        last = max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
        if last + 1 >= len(body):  # after the table's last line: tomlkit inserts only before one
            container.append(key, value)
        else:
            container._insert_at(last + 1, key, value)


def _same(key: str, value: Any, policy: Policy) -> bool:
    """True when a key of the file already says what `policy` holds."""
    try:
        read = policy_from_mapping({**_required_of(policy), key: _plain(value)})
    except InvalidPolicy:
        return False
    return bool(getattr(read, key) == getattr(policy, key))


def _required_of(policy: Policy) -> dict[str, Any]:
    return {"id": policy.id, "source": policy.source, "destination": policy.destination}


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if unwrap is not None else value


def _edit(path: str, change: Callable[[Any], None]) -> None:
    """Read the file, apply `change` to its document, write it back atomically."""
    tomlkit = _tomlkit()
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigError(path, cause_of(exc)) from None
    try:
        doc = tomlkit.parse(text)
        change(doc)
    except (ValueError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(path, f"cannot edit: {exc}") from None
    write_atomically(path, tomlkit.dumps(doc))


def write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` (0600) through a temporary file renamed over it.

    A directory created for it is 0700. Once this returns, the new content is on disk.

    Raises:
        ConfigError: It cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".config.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), 0o600)
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    except OSError as exc:
        raise ConfigError(path, f"cannot write: {cause_of(exc)}") from None
