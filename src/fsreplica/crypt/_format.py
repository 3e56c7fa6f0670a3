"""The encrypted object: a 32-byte header, then the content in authenticated chunks.

The construction is age's STREAM (https://age-encryption.org/v1, "payload"), with AES-256-GCM:

- header: `MAGIC` (4 bytes), the format version (1), three zero bytes, the key id (8: which data
  key sealed it) and a random salt (16);
- file key: HKDF-SHA256 of the destination's content key, with the salt, over an info string
  that ends with the object's key (its plaintext path): an object moved or copied to another key
  opens with the wrong file key and fails at its first chunk;
- chunks: 64 KiB of plaintext each, sealed with the nonce `counter (11 bytes, big-endian) ||
  last (1 byte: 1 for the final chunk)` and the header as associated data. An empty file is one
  empty final chunk. A reordered chunk fails its counter, a dropped tail fails (no final chunk),
  a dropped final chunk is reported as a truncation, bytes after the final chunk are refused.

The size of the plaintext follows from the size of the object (`plain_size`), so a listing
gives sizes without reading anything. The content's SHA-256, which the replicator compares with
its state, travels sealed (`seal_digest`): AES-256-GCM with a random nonce, bound to the key,
so the destination never holds a plain hash of the content, and equal files show unequal values.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fsreplica.errors import IntegrityError

MAGIC = b"FSRC"
VERSION = 1
CHUNK = 64 * 1024
TAG = 16
RECORD = CHUNK + TAG
HEADER_SIZE = 32
KEY_ID_SIZE = 8
_SALT_SIZE = 16
_FILE_INFO = b"fsreplica-crypt/v1 file\0"
_DIGEST_INFO = b"fsreplica-crypt/v1 sha256\0"
_DIGEST_PREFIX = "c1"
_LAST = b"\x01"
_MORE = b"\x00"


@dataclass(frozen=True, slots=True)
class ContentKeys:
    """The keys one destination's objects are sealed with (derived from its data key).

    Attributes:
        key_id: Names the data key; written in every header.
        content: The key each file key is derived from.
        digest: Seals the content hashes kept in the metadata.
    """

    key_id: bytes
    content: bytes
    digest: bytes
    _digest_aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One cipher object for every digest (stateless, shared by the worker threads).
        object.__setattr__(self, "_digest_aead", AESGCM(self.digest))

    @property
    def digest_aead(self) -> AESGCM:
        """AES-256-GCM under the digest key."""
        return self._digest_aead


def encrypted_size(size: int) -> int:
    """The size of the object holding `size` bytes of plaintext."""
    chunks = max(1, -(-size // CHUNK))
    return HEADER_SIZE + size + chunks * TAG


def plain_size(size: int) -> int | None:
    """The plaintext size of an object of `size` bytes; None for a size no object can have."""
    body = size - HEADER_SIZE
    if body < TAG:
        return None
    full, rest = divmod(body, RECORD)
    if rest == 0:
        return full * CHUNK
    if rest < TAG or (rest == TAG and full > 0):
        return None  # an empty chunk after a full one is never written
    return full * CHUNK + rest - TAG


def _path_bytes(key: str) -> bytes:
    return os.fsencode(key)


def _file_aead(keys: ContentKeys, salt: bytes, key: str) -> AESGCM:
    hkdf = HKDF(hashes.SHA256(), 32, salt, _FILE_INFO + _path_bytes(key))
    return AESGCM(hkdf.derive(keys.content))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (_LAST if last else _MORE)


class Sealer:
    """Seals one file for `key`, chunk after chunk: `header`, then `seal` for each chunk in order.

    Every chunk but the last must hold exactly `CHUNK` bytes.
    """

    def __init__(self, keys: ContentKeys, key: str) -> None:
        salt = os.urandom(_SALT_SIZE)
        self.header = MAGIC + bytes((VERSION, 0, 0, 0)) + keys.key_id + salt
        self._aead = _file_aead(keys, salt, key)
        self._counter = 0

    def seal(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        """Return the sealed `chunk` (its length plus `TAG`)."""
        sealed = self._aead.encrypt(_nonce(self._counter, last), chunk, self.header)
        self._counter += 1
        return sealed


def seal_bytes(keys: ContentKeys, key: str, data: bytes) -> bytes:
    """The whole object for `data` under `key` (for small objects held in memory)."""
    sealer = Sealer(keys, key)
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    last = len(pieces) - 1
    return sealer.header + b"".join(
        sealer.seal(piece, last=n == last) for n, piece in enumerate(pieces)
    )


def open_stream(keys: ContentKeys, key: str, stream: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the plaintext of the object `key`, read from `stream`, one chunk at a time.

    Each chunk is yielded once it has authenticated; the end of the stream is authenticated
    with the last one, so a reader that keeps what it got only once the iterator is exhausted
    never keeps a truncated or altered file.

    Raises:
        IntegrityError: Not an object of this format, sealed under another data key, altered,
            truncated, extended, or stored under another key than the one it was sealed for.
        FileNotFoundError: From `stream`: nothing is stored under the key.
    """
    buffer = bytearray()
    aead: AESGCM | None = None
    header = b""
    counter = 0
    for data in stream:
        buffer += data
        if aead is None:
            if len(buffer) < HEADER_SIZE:
                continue
            header = bytes(buffer[:HEADER_SIZE])
            del buffer[:HEADER_SIZE]
            aead = _check_header(keys, key, header)
        # Keep the last record back: only the end of the stream says it is the final one.
        while len(buffer) > RECORD:
            yield _open(aead, key, counter, buffer[:RECORD], header, last=False)
            del buffer[:RECORD]
            counter += 1
    if aead is None:
        raise IntegrityError(key, "not an encrypted object (too short)")
    try:
        yield aead.decrypt(_nonce(counter, True), bytes(buffer), header)
    except InvalidTag:
        try:
            aead.decrypt(_nonce(counter, False), bytes(buffer), header)
        except InvalidTag:
            pass
        else:
            raise IntegrityError(key, "truncated (its final chunk is missing)") from None
        raise IntegrityError(key, _FAILED) from None


_FAILED = "authentication failed (altered, truncated, or sealed for another key)"


def _check_header(keys: ContentKeys, key: str, header: bytes) -> AESGCM:
    if header[:4] != MAGIC:
        raise IntegrityError(key, "not an encrypted object")
    if header[4] != VERSION:
        raise IntegrityError(key, f"unknown format version {header[4]}")
    key_id = header[8 : 8 + KEY_ID_SIZE]
    if key_id != keys.key_id:
        raise IntegrityError(key, f"sealed under another data key ({key_id.hex()})")
    return _file_aead(keys, header[8 + KEY_ID_SIZE :], key)


def _open(
    aead: AESGCM, key: str, counter: int, record: bytearray, header: bytes, *, last: bool
) -> bytes:
    try:
        return aead.decrypt(_nonce(counter, last), bytes(record), header)
    except InvalidTag:
        raise IntegrityError(key, _FAILED) from None


def seal_digest(keys: ContentKeys, key: str, sha256: str) -> str:
    """Seal the hex SHA-256 of the content of `key` for the metadata (no ':' in the result)."""
    nonce = os.urandom(12)
    sealed = keys.digest_aead.encrypt(nonce, bytes.fromhex(sha256), _DIGEST_INFO + _path_bytes(key))
    return _DIGEST_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def open_digest(keys: ContentKeys, key: str, value: str | None) -> str | None:
    """The hex SHA-256 sealed in `value` by `seal_digest`; None when absent or not authentic."""
    if not value or not value.startswith(_DIGEST_PREFIX):
        return None
    text = value[len(_DIGEST_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = keys.digest_aead.decrypt(raw[:12], raw[12:], _DIGEST_INFO + _path_bytes(key))
    except (ValueError, InvalidTag):
        return None
    return plain.hex()
