"""Names as bytes: the store key encoding and the one-line form for messages."""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsreplica._names import QUOTE, from_key, one_line, shown, to_key
from fsreplica.cli._common import configure_logging

NAMES = st.binary(min_size=1, max_size=24).map(os.fsdecode)


class TestStoreKeys:
    """to_key and from_key: exact, printable UTF-8, a prefix code."""

    @pytest.mark.parametrize(
        ("name", "key"),
        [
            ("plain/é.txt", "plain/é.txt"),
            (os.fsdecode(b"bad\xff.txt"), f"bad{QUOTE}FF.txt"),
            ("new\nline", f"new{QUOTE}0Aline"),
            ("del\x7f", f"del{QUOTE}7F"),
            (QUOTE, QUOTE * 2),
            ("\ufffe", f"{QUOTE}EF{QUOTE}BF{QUOTE}BE"),
            (os.fsdecode(b"\xe2\x80") + QUOTE + "FF", f"{QUOTE}E2{QUOTE}80{QUOTE}{QUOTE}FF"),
        ],
    )
    def test_documented_examples(self, name: str, key: str) -> None:
        assert to_key(name) == key
        assert from_key(key) == name

    @settings(max_examples=500, deadline=None)
    @given(name=NAMES)
    def test_every_byte_name_round_trips(self, name: str) -> None:
        key = to_key(name)
        assert from_key(key) == name
        key.encode("utf-8")  # no surrogates left
        assert not any(c < " " or c in "\x7f\ufffe\uffff" for c in key)

    @settings(max_examples=300, deadline=None)
    @given(name=NAMES, rest=NAMES)
    def test_a_prefix_of_a_name_is_a_prefix_of_its_key(self, name: str, rest: str) -> None:
        assert to_key(name + rest).startswith(to_key(name))
        assert to_key(name + rest) == to_key(name) + to_key(rest)

    def test_keys_not_written_by_fsreplica_read_as_themselves(self) -> None:
        assert from_key(f"a{QUOTE}zz") == f"a{QUOTE}zz"
        assert from_key(f"{QUOTE}") == QUOTE

    def test_a_surrogate_no_file_name_has_is_refused(self) -> None:
        with pytest.raises(UnicodeEncodeError):
            to_key("\ud800")


class TestShown:
    """One printable line per name, and two names never look alike."""

    def test_printable_names_are_shown_as_they_are(self) -> None:
        assert shown("/data/résumé 2.txt") == "/data/résumé 2.txt"

    def test_escapes(self) -> None:
        assert shown(os.fsdecode(b"a\nb\tc\xff\x01\\")) == "a\\nb\\tc\\xff\\x01\\\\"
        assert shown("line\u2028sep\x85") == "line\\u2028sep\\u0085"

    @settings(max_examples=500, deadline=None)
    @given(a=NAMES, b=NAMES)
    def test_one_line_and_distinct(self, a: str, b: str) -> None:
        assert shown(a).isprintable()
        assert (shown(a) == shown(b)) == (a == b)


class TestLogLines:
    """The CLI's log lines stay one line, whatever a message holds."""

    def test_one_line_keeps_backslashes(self) -> None:
        assert one_line("put a\\nb: 5 bytes") == "put a\\nb: 5 bytes"
        assert one_line(os.fsdecode(b"watch /a\nb\xff: gone")) == "watch /a\\nb\\xff: gone"

    def test_text_log_format(self, capsys: pytest.CaptureFixture[str]) -> None:
        logger = logging.getLogger("fsreplica")
        saved = logger.handlers[:], logger.level, logger.propagate
        configure_logging(verbosity=0, fmt="text")
        try:
            logger.warning("watch %s: gone", "/src/a\nb")
        finally:
            logger.handlers[:], logger.level, logger.propagate = saved
        assert capsys.readouterr().err == "fsreplica: WARNING: watch /src/a\\nb: gone\n"
