"""The object format: sizes, round trips, and every kind of tampering refused."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsreplica.crypt._format import (
    CHUNK,
    HEADER_SIZE,
    RECORD,
    ContentKeys,
    Sealer,
    encrypted_size,
    open_digest,
    open_stream,
    plain_size,
    seal_digest,
)
from fsreplica.errors import IntegrityError

KEYS = ContentKeys(key_id=b"k" * 8, content=b"c" * 32, digest=b"d" * 32)


def seal(data: bytes, key: str = "a/b.txt", keys: ContentKeys = KEYS) -> bytes:
    sealer = Sealer(keys, key)
    out = [sealer.header]
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for i, piece in enumerate(pieces):
        out.append(sealer.seal(piece, last=i == len(pieces) - 1))
    return b"".join(out)


def opened(blob: bytes, key: str = "a/b.txt", *, step: int = 1000) -> bytes:
    def stream() -> Iterator[bytes]:
        for i in range(0, len(blob), step):
            yield blob[i : i + step]

    return b"".join(open_stream(KEYS, key, stream()))


class TestSizes:
    """The plaintext size follows from the stored size, both ways."""

    @given(st.integers(min_value=0, max_value=50 * CHUNK))
    def test_inverse(self, size: int) -> None:
        assert plain_size(encrypted_size(size)) == size

    @pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
    def test_sealed_size(self, size: int) -> None:
        assert len(seal(os.urandom(size))) == encrypted_size(size)

    def test_impossible_sizes(self) -> None:
        assert plain_size(HEADER_SIZE) is None
        assert plain_size(HEADER_SIZE + 15) is None
        assert plain_size(HEADER_SIZE + RECORD + 16) is None


class TestRoundTrip:
    """What is sealed opens, whatever the read sizes."""

    @pytest.mark.parametrize("size", [0, 5, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7])
    @pytest.mark.parametrize("step", [1, 4096, RECORD, 10 * RECORD])
    def test_round_trip(self, size: int, step: int) -> None:
        if step == 1 and size > CHUNK:
            step = 997
        data = os.urandom(size)
        assert opened(seal(data), step=step) == data

    def test_sealed_twice_differs(self) -> None:
        # A fresh salt per file: equal files are not equal objects.
        assert seal(b"same") != seal(b"same")

    def test_digest(self) -> None:
        sealed = seal_digest(KEYS, "a", "ab" * 32)
        assert ":" not in sealed
        assert "ab" * 32 not in sealed
        assert open_digest(KEYS, "a", sealed) == "ab" * 32
        assert open_digest(KEYS, "b", sealed) is None  # bound to its key
        assert open_digest(KEYS, "a", "ab" * 32) is None  # a plain hash is not ours
        assert open_digest(KEYS, "a", None) is None


class TestTampering:
    """Each alteration is an IntegrityError naming the key; no plaintext of a bad chunk."""

    DATA = os.urandom(3 * CHUNK + 100)

    def refused(self, blob: bytes, key: str = "a/b.txt") -> str:
        with pytest.raises(IntegrityError) as info:
            opened(blob, key)
        assert info.value.key == key
        assert key in str(info.value)
        return info.value.reason

    @pytest.mark.parametrize("offset", [0, 5, 9, 20, HEADER_SIZE, HEADER_SIZE + RECORD + 3, -1])
    def test_bit_flip(self, offset: int) -> None:
        blob = bytearray(seal(self.DATA))
        blob[offset] ^= 0x01
        self.refused(bytes(blob))

    def test_truncated_at_a_chunk_boundary(self) -> None:
        blob = seal(self.DATA)
        assert "truncated" in self.refused(blob[: HEADER_SIZE + 2 * RECORD])

    @pytest.mark.parametrize("cut", [1, 17, RECORD])
    def test_truncated_anywhere(self, cut: int) -> None:
        self.refused(seal(self.DATA)[:-cut])

    def test_truncated_to_the_header(self) -> None:
        self.refused(seal(self.DATA)[:HEADER_SIZE])
        self.refused(seal(self.DATA)[: HEADER_SIZE - 1])

    def test_extended(self) -> None:
        self.refused(seal(self.DATA) + b"\0" * 16)

    def test_reordered_chunks(self) -> None:
        blob = seal(self.DATA)
        first = blob[HEADER_SIZE : HEADER_SIZE + RECORD]
        second = blob[HEADER_SIZE + RECORD : HEADER_SIZE + 2 * RECORD]
        swapped = blob[:HEADER_SIZE] + second + first + blob[HEADER_SIZE + 2 * RECORD :]
        self.refused(swapped)

    def test_chunk_from_another_file(self) -> None:
        one, two = seal(self.DATA), seal(self.DATA)
        mixed = one[: HEADER_SIZE + RECORD] + two[HEADER_SIZE + RECORD :]
        self.refused(mixed)

    def test_stored_under_another_key(self) -> None:
        # A swapped pair: each object opens only under the key it was sealed for.
        self.refused(seal(self.DATA, "a/b.txt"), "a/c.txt")

    def test_other_data_key(self) -> None:
        other = ContentKeys(key_id=b"o" * 8, content=b"x" * 32, digest=b"y" * 32)
        assert "another data key" in self.refused(seal(self.DATA, keys=other))

    def test_not_an_object(self) -> None:
        assert "not an encrypted object" in self.refused(b"plain text, " * 10)

    def test_nothing_of_a_bad_final_chunk_is_given(self) -> None:
        blob = bytearray(seal(self.DATA))
        blob[-1] ^= 0x80
        got: list[bytes] = []
        stream = open_stream(KEYS, "a/b.txt", iter([bytes(blob)]))
        with pytest.raises(IntegrityError):
            got.extend(stream)
        assert b"".join(got) == self.DATA[: 3 * CHUNK]  # the authenticated chunks only
