"""Encrypted names: each path segment sealed on its own with AES-SIV, deterministically.

Deterministic, so that the same name always gives the same stored name: a listing maps back to
the source's keys, and a no-change re-sync needs no download. The price (see
docs/encryption.md): equal names encrypt equally (two directories holding `README` show the same
stored name), the tree's shape (depth, number of entries per directory) and each name's
approximate length stay visible. Segments are written in lower-case base32 without padding
(safe on case-insensitive file systems); a sealed name is 16 bytes longer and then 8/5 as long,
so a segment of more than 143 bytes no longer fits the usual 255-byte limit of a file name.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_INFO = b"fsreplica-crypt/v1 name"


class NameCipher:
    """Seals and opens keys one segment at a time.

    Args:
        key: 64 bytes (AES-256-SIV).
    """

    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(key)
        self._opened: dict[str, str] = {}

    def seal(self, key: str) -> str:
        """The stored form of `key`."""
        return "/".join(self._seal_segment(part) for part in key.split("/"))

    def _seal_segment(self, segment: str) -> str:
        sealed = self._siv.encrypt(os.fsencode(segment), [_INFO])
        return base64.b32encode(sealed).decode("ascii").rstrip("=").lower()

    def open(self, stored: str) -> str | None:
        """The key whose stored form is `stored`; None when a segment is not one of ours."""
        parts = []
        for segment in stored.split("/"):
            opened = self._opened.get(segment)
            if opened is None:
                opened = self._open_segment(segment)
                if opened is None:
                    return None
                if len(self._opened) < 4096:  # directory names repeat across a listing
                    self._opened[segment] = opened
            parts.append(opened)
        return "/".join(parts)

    def _open_segment(self, segment: str) -> str | None:
        text = segment.upper()
        try:
            raw = base64.b32decode(text + "=" * (-len(text) % 8))
            return os.fsdecode(self._siv.decrypt(raw, [_INFO]))
        except (binascii.Error, ValueError, InvalidTag):
            return None
