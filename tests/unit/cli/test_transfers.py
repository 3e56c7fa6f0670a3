"""The default of --transfers: fewer parallel copies to a local directory than to a store."""

from __future__ import annotations

import pytest

from fsreplica.cli import build_parser
from fsreplica.cli._replication import transfers_for
from fsreplica.replicate.engine import DEFAULT_TRANSFERS, LOCAL_SYNC_TRANSFERS, LOCAL_TRANSFERS


@pytest.mark.parametrize("local", [True, False])
@pytest.mark.parametrize("live", [True, False])
def test_an_explicit_transfers_is_kept_for_every_destination(local: bool, live: bool) -> None:
    assert transfers_for(3, local=local, live=live) == 3
    assert transfers_for(1, local=local, live=live) == 1


def test_the_default_depends_on_the_destination_and_the_command() -> None:
    assert transfers_for(None, local=True, live=False) == LOCAL_SYNC_TRANSFERS
    assert transfers_for(None, local=True, live=True) == LOCAL_TRANSFERS
    assert transfers_for(None, local=False, live=False) == DEFAULT_TRANSFERS
    assert transfers_for(None, local=False, live=True) == DEFAULT_TRANSFERS
    assert LOCAL_SYNC_TRANSFERS <= LOCAL_TRANSFERS < DEFAULT_TRANSFERS


@pytest.mark.parametrize("command", ["sync", "replicate"])
def test_the_option_is_absent_unless_given(command: str) -> None:
    parser = build_parser(command)
    args = parser.parse_args([command, "src", "dst"])
    assert args.transfers is None
    assert args.command == command  # make_replicator picks the default by it
    assert parser.parse_args([command, "src", "dst", "--transfers", "5"]).transfers == 5
