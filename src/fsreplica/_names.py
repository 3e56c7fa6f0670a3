"""Names as bytes: showing them on one line, and keys for stores that only hold UTF-8.

On POSIX a file name is bytes (anything but '/' and NUL). Inside fsreplica a key is a `str` as
`os.fsdecode` and `os.scandir` give it: bytes that are not UTF-8 become lone surrogates
(U+DC80-U+DCFF, Python's "surrogateescape"), so `os.fsencode(key)` gives the name back byte for
byte and every local call takes it as it is.

Two places cannot take such a key as it is:

- A message for people: a name may hold a newline or a terminal escape. `shown` gives a form
  that is one printable line and tells names apart.
- An object store key: S3 keys are UTF-8, and the object store client refuses control
  characters. `to_key` / `from_key` map every name to a printable UTF-8 key and back exactly,
  with the scheme of rclone's `lib/encoder` for invalid UTF-8 (its "InvalidUtf8" encoding). Its
  quote character Q is U+201B SINGLE HIGH-REVERSED-9 QUOTATION MARK:

  ===================================================  ==================================
  in the name                                          in the key
  ===================================================  ==================================
  a byte that is not part of valid UTF-8               Q and its two hex digits (Q + `FF`)
  a control character (U+0001-U+001F, U+007F)          Q and its two hex digits (Q + `0A`)
  U+FFFE, U+FFFF (not allowed in S3's XML listings)    its UTF-8 bytes, each as above
  the quote character Q itself                         Q Q
  anything else                                        itself
  ===================================================  ==================================

  Hex digits are upper case. Every Q in a key starts one of these escapes, so decoding is
  exact; a name without any of these characters is its own key, so a tree of plain names is
  stored under the very names any other tool shows. A Q followed by anything else (a key not
  written by fsreplica) is read as itself.

  Azure Blob Storage takes a backslash for '/' and drops a '.' that ends a path segment:
  `to_blob_key` escapes those too (Q + `5C`, Q + `2E`), as rclone's Azure backend does;
  `from_key` decodes both.
"""

from __future__ import annotations

import os
import re

QUOTE = "\u201b"
"""The escape character of object store keys (rclone's QuoteRune)."""

# Characters a store key cannot hold as they are: C0 controls and DEL, lone surrogates (bytes
# that are not UTF-8), the XML non-characters U+FFFE/U+FFFF, and the quote itself.
_TO_KEY = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff\u201b]")
_FROM_KEY = re.compile(f"{QUOTE}{QUOTE}|(?:{QUOTE}[0-9A-F]{{2}})+")
_CONTROL_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_SHOWN_ESCAPES = {"\\": "\\\\", **_CONTROL_ESCAPES}


def _escape_for_key(match: re.Match[str]) -> str:
    char = match.group()
    if char == QUOTE:
        return QUOTE + QUOTE
    raw = char.encode("utf-8", "surrogateescape") if _is_escaped_byte(char) else char.encode()
    return "".join(f"{QUOTE}{byte:02X}" for byte in raw)


def _is_escaped_byte(char: str) -> bool:
    return "\udc80" <= char <= "\udcff"


def _unescape_key(match: re.Match[str]) -> str:
    text = match.group()
    if text == QUOTE + QUOTE:
        return QUOTE
    return os.fsdecode(bytes.fromhex(text.replace(QUOTE, "")))


def to_key(name: str) -> str:
    """Return the store key of `name` (a '/'-separated key as fsreplica holds it).

    Raises:
        UnicodeEncodeError: `name` holds a surrogate that no file name decodes to (only a
            program can pass one; `check_key` refuses such keys first).
    """
    if not _TO_KEY.search(name):
        return name  # the common case: no copy
    for char in name:
        if "\ud800" <= char <= "\udfff" and not _is_escaped_byte(char):
            raise UnicodeEncodeError("utf-8", name, name.index(char), name.index(char) + 1, "")
    return _TO_KEY.sub(_escape_for_key, name)


_BLOB_ONLY = re.compile(r"\\|\.(?=/|$)")


def to_blob_key(name: str) -> str:
    """Return the Azure blob name of `name`: `to_key`, with backslashes and trailing dots escaped.

    Raises:
        UnicodeEncodeError: As `to_key`.
    """
    key = to_key(name)
    if "\\" not in key and "." not in key:
        return key
    return _BLOB_ONLY.sub(lambda match: f"{QUOTE}{ord(match.group()):02X}", key)


def in_key_order(name: str) -> bool:
    """True when `name` is its own store key (`to_key(name) == name`): listed alike everywhere.

    Such a name is valid UTF-8, and for it Python's order of `str` (by code point) is the order of
    its UTF-8 bytes: the order in which S3 lists keys, SQLite sorts TEXT, and a walk that sorts
    each directory lists paths. Any other name (bytes that are not UTF-8, controls, the quote) is
    sorted differently by each of them: the reconcile sets such names aside and compares them
    once every side has been read (see `fsreplica.replicate.march`).
    """
    if name.isascii():
        return name.isprintable()
    return _TO_KEY.search(name) is None


def from_key(key: str) -> str:
    """Return the name of a store key made by `to_key`; never raises."""
    if QUOTE not in key:
        return key
    return _FROM_KEY.sub(_unescape_key, key)


def shown(name: str) -> str:
    r"""Return `name` as one printable line, for messages.

    A printable name without a backslash is shown as it is. Any other name is shown with
    backslash escapes: `\\` for a backslash, `\n`, `\t`, `\r`, `\xNN` for a raw byte that is not
    UTF-8 and for other ASCII controls, and `\uNNNN` / `\UNNNNNNNN` for other characters that
    do not print (line separators, format characters). So two names never look alike.
    """
    if name.isprintable() and "\\" not in name:
        return name
    return "".join(_SHOWN_ESCAPES.get(char) or _escaped(char) for char in name)


def one_line(text: str) -> str:
    """Return `text` (a whole message) with what does not print escaped as `shown` does.

    Backslashes are kept as they are: names in the message went through `shown` already; this
    only makes sure that a name that did not (a path in a library's message) cannot break the
    line.
    """
    if text.isprintable():
        return text
    return "".join(_CONTROL_ESCAPES.get(char) or _escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    if _is_escaped_byte(char) or char < "\x80":
        return f"\\x{ord(char) & 0xFF:02x}"
    if char <= "\uffff":
        return f"\\u{ord(char):04x}"
    return f"\\U{ord(char):08x}"
