"""What each object carries as metadata, and reading it back into an ObjectInfo.

S3 keeps it as user metadata, GCS as custom metadata; both list and show it under these names.

`mtime` and `mode` use rclone's encoding (seconds with nine decimals; the octal st_mode), so both
tools read each other's modification times. `sha256` is the hex digest of the content and
`fsreplica-ctime-ns` the source's inode change time, which orders versions of one file (a ctime
never goes back, even when `touch -d` sets an older mtime).

Azure allows only C# identifiers as metadata names, so there the ctime is `fsreplica_ctime_ns`
(`CTIME_IDENTIFIER`); each store passes the name it uses. rclone's Azure backend writes `mtime`
as an RFC 3339 time, which `parse_mtime` reads too.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fsreplica.destinations._base import ObjectInfo

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fsreplica.destinations._source import SourceFile

MTIME = "mtime"
MODE = "mode"
SHA256 = "sha256"
CTIME = "fsreplica-ctime-ns"
CTIME_IDENTIFIER = "fsreplica_ctime_ns"
_NS = 1_000_000_000
_S_IFREG = 0o100000


def format_mtime(mtime_ns: int) -> str:
    """Return `mtime_ns` as rclone writes it: "seconds.nanoseconds"."""
    seconds, fraction = divmod(mtime_ns, _NS)
    return f"{seconds}.{fraction:09d}"


def parse_mtime(text: str) -> int | None:
    """Parse "seconds[.fraction]" or an RFC 3339 time exactly; None when malformed."""
    text = text.strip()
    if "T" in text:
        return _parse_rfc3339(text)
    seconds, _, fraction = text.partition(".")
    try:
        return int(seconds) * _NS + int((fraction + "000000000")[:9] or "0")
    except ValueError:
        return None


def _parse_rfc3339(text: str) -> int | None:
    """Parse "2006-01-02T15:04:05.999999999Z07:00" to nanoseconds (no float rounding)."""
    head, dot, rest = text.partition(".")
    fraction = ""
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        head += zone
    try:
        whole = datetime.fromisoformat(head.replace("Z", "+00:00"))
        return int(whole.timestamp()) * _NS + int((fraction + "000000000")[:9] or "0")
    except ValueError:
        return None


def attributes_for(source: SourceFile, *, ctime_name: str = CTIME) -> dict[str, str]:
    """The metadata stored with the content of `source` (call after its content was hashed).

    Args:
        source: The file, hashed.
        ctime_name: The name of the source ctime's entry (`CTIME_IDENTIFIER` on Azure).
    """
    attributes = {
        MTIME: format_mtime(source.mtime_ns),
        MODE: mode_text(source.mode),
        ctime_name: str(source.stat.st_ctime_ns),
    }
    if source.sha256 is not None:
        attributes[SHA256] = source.sha256
    return attributes


def mode_text(mode: int) -> str:
    """`mode` (permission bits) as the `mode` entry holds it: the octal st_mode of a file."""
    return format(_S_IFREG | mode, "o")


def ctime_of(attributes: Mapping[str, str], *, name: str = CTIME) -> int:
    """The recorded source ctime (under `name`), or 0 for objects written by other tools."""
    try:
        return int(attributes.get(name, "0"))
    except ValueError:
        return 0


def info_from(
    key: str, size: int, last_modified: datetime, attributes: Mapping[str, str]
) -> ObjectInfo:
    """Build the ObjectInfo of an object from its size, date and metadata.

    Objects written by other tools have no `mtime`; their upload date stands in for it.
    """
    lower = {name.lower(): value for name, value in attributes.items()}
    mtime_ns = parse_mtime(lower.get(MTIME, ""))
    if mtime_ns is None:
        mtime_ns = int(last_modified.timestamp()) * _NS
    mode: int | None
    try:
        mode = int(lower[MODE], 8) & 0o7777
    except (KeyError, ValueError):
        mode = None
    return ObjectInfo(key, size, mtime_ns, mode, lower.get(SHA256) or None)
