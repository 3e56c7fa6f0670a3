"""The default of --transfers: fewer parallel copies to a local directory than to a store."""

from __future__ import annotations

from fsreplica.cli import build_parser
from fsreplica.cli._replication import transfers_for
from fsreplica.replicate.engine import DEFAULT_TRANSFERS, LOCAL_TRANSFERS


def test_an_explicit_transfers_is_kept_for_every_destination() -> None:
    assert transfers_for(3, local=True) == 3
    assert transfers_for(3, local=False) == 3
    assert transfers_for(1, local=False) == 1


def test_the_default_depends_on_the_destination() -> None:
    assert transfers_for(None, local=True) == LOCAL_TRANSFERS
    assert transfers_for(None, local=False) == DEFAULT_TRANSFERS
    assert LOCAL_TRANSFERS < DEFAULT_TRANSFERS


def test_the_option_is_absent_unless_given() -> None:
    for command in ("sync", "replicate"):
        parser = build_parser(command)
        assert parser.parse_args([command, "src", "dst"]).transfers is None
        assert parser.parse_args([command, "src", "dst", "--transfers", "5"]).transfers == 5
