"""Helpers for the tests of names that are bytes (no tests here): trees written and read as bytes,
and a hypothesis strategy of file names as the file system allows them."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

BAD = b"bad\xff.txt"


def byte_tree(root: Path) -> dict[bytes, bytes]:
    """Regular files under `root` by their relative path as bytes (every name, hidden too).

    Safe to call while a replicator writes there: a file gone between the listing and the read is
    left out (the caller polls until the tree is what it expects).
    """
    out = {}
    base = os.fsencode(root)
    for dirpath, _, filenames in os.walk(base):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            try:
                with open(path, "rb") as f:
                    out[os.path.relpath(path, base)] = f.read()
            except FileNotFoundError:
                continue  # a replicator's temporary file, renamed away since it was listed
    return out


def write(root: Path, files: dict[bytes, bytes]) -> None:
    base = os.fsencode(root)
    for rel, data in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def u8_tree(root: Path) -> dict[bytes, bytes]:
    """The issue's reproduction: f1.txt ... f8.txt and bad<0xff>.txt."""
    files = {f"f{i}.txt".encode(): f"{i}\n".encode() for i in range(1, 9)}
    files[BAD] = b"x"
    write(root, files)
    return files


# Names as the file system allows them: any bytes but '/' and NUL, not '.' or '..'; the bytes
# that trouble text (invalid UTF-8, controls, the S3 escape character's bytes) drawn often.
_TRICKY = [0x0A, 0x0D, 0x09, 0x01, 0x1B, 0x7F, 0x80, 0x9B, 0xBE, 0xBF, 0xC3, 0xE2, 0xEF, 0xFF]
_BYTE = st.one_of(st.sampled_from(_TRICKY), st.integers(1, 255)).filter(lambda b: b != 0x2F)
_TEXT = st.text(min_size=1, max_size=6).map(lambda s: s.encode("utf-8", "surrogatepass"))
NAMES = (
    st.one_of(st.lists(_BYTE, min_size=1, max_size=10).map(bytes), _TEXT)
    .filter(lambda n: b"/" not in n and b"\0" not in n and n not in (b".", b".."))
    .filter(lambda n: not n.startswith(b".fsreplica-"))  # a local DEST's temporary files
)


@st.composite
def trees(draw: st.DrawFn) -> dict[bytes, bytes]:
    """A few files with arbitrary names, at the top and in a directory with one too."""
    directory = draw(NAMES)
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    files = {name: name[::-1] for name in names if name != directory}
    files.update({directory + b"/" + name: name for name in names[:2]})
    return files


def examples(count: int) -> settings:
    """Hypothesis settings for a test whose examples run real processes.

    Few examples, no deadline (a process start varies on a loaded machine), no example database
    (nothing written beside the tests).
    """
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
