"""Ignore patterns: globs matched against every component of a path.

A pattern without '/' matches any single path component (so '.*' ignores files inside hidden
directories too, and an ignored directory is never watched). A pattern with '/' matches the whole
key relative to the watched root.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

DEFAULT_IGNORE: tuple[str, ...] = (".*", "*.metadata.json", "*~", "*.tmp")
"""Names ignored by default: hidden names, metadata sidecars, editor backups, temporary files."""

NameFilter = Callable[[str], bool]


def ignore_patterns(
    exclude: Iterable[str] = (), *, default_excludes: bool = True
) -> tuple[str, ...]:
    """The patterns to ignore: `DEFAULT_IGNORE` unless `default_excludes` is off, then `exclude`."""
    return (*(DEFAULT_IGNORE if default_excludes else ()), *exclude)


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    parts = [fnmatch.translate(p) for p in patterns]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL)


_WILD = re.compile(r"[*?\[]")


def _split_simple(
    patterns: Iterable[str],
) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str], list[str]]:
    """Sort name patterns into prefixes ("x*"), suffixes ("*x"), exact names and the rest.

    The first three are answered by str.startswith/endswith and a set lookup, several times
    faster than a regular expression; a scan of a big tree asks once per entry.
    """
    prefixes: list[str] = []
    suffixes: list[str] = []
    exact: set[str] = set()
    rest: list[str] = []
    for p in patterns:
        if not _WILD.search(p):
            exact.add(p)
        elif p.endswith("*") and not _WILD.search(p[:-1]):
            prefixes.append(p[:-1])
        elif p.startswith("*") and not _WILD.search(p[1:]):
            suffixes.append(p[1:])
        else:
            rest.append(p)
    return tuple(prefixes), tuple(suffixes), frozenset(exact), rest


class IgnoreRules:
    """Compiled ignore patterns.

    Args:
        patterns: Glob patterns; see the module docstring for how they match.
    """

    __slots__ = ("_exact", "_key_re", "_name_re", "_prefixes", "_suffixes", "patterns")

    def __init__(self, patterns: Iterable[str] = DEFAULT_IGNORE) -> None:
        self.patterns = tuple(patterns)
        for pattern in self.patterns:
            if not isinstance(pattern, str) or not pattern:
                raise ValueError(f"ignore pattern must be a non-empty string: {pattern!r}")
        name_patterns = [p for p in self.patterns if "/" not in p.strip("/")]
        self._prefixes, self._suffixes, self._exact, rest = _split_simple(name_patterns)
        self._name_re = _compile(rest)
        self._key_re = _compile(p.strip("/") for p in self.patterns if "/" in p.strip("/"))

    def name(self, name: str) -> bool:
        """Return True if a path component with this name is ignored."""
        if name.startswith(self._prefixes) or name.endswith(self._suffixes) or name in self._exact:
            return True
        name_re = self._name_re
        return name_re is not None and name_re.match(name) is not None

    def key(self, key: str) -> bool:
        """Return True if the whole relative key (or any of its components) is ignored."""
        if self._key_re is not None and self._key_re.match(key) is not None:
            return True
        return any(self.name(part) for part in key.split("/"))

    @property
    def has_key_patterns(self) -> bool:
        """True when some pattern needs the whole key, not just the name."""
        return self._key_re is not None

    def child(self, parent_key: str, name: str) -> bool:
        """Return True if the entry `name` inside directory `parent_key` is ignored."""
        if self.name(name):
            return True
        if self._key_re is None:
            return False
        return self._key_re.match(f"{parent_key}/{name}" if parent_key else name) is not None
