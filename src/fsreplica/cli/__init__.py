"""The `fsreplica` command: one module per subcommand, registered here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from fsreplica import __version__
from fsreplica.cli._common import EXIT_USAGE, configure_logging, internal_error
from fsreplica.errors import InternalError

# subcommand name -> module under fsreplica.cli; each module has `add_parser` and `run`.
COMMANDS: dict[str, str] = {
    "watch": "watch",
    "sync": "sync",
    "replicate": "replicate",
    "verify": "verify",
    "status": "status",
    "daemon": "daemon",
    "key": "key",
    "restore": "restore",
    "policy": "policy",
    "trigger": "trigger",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand, or only `command` when it is known.

    Each subcommand lives in its own module; importing only the one that runs keeps start-up
    short (a no-change `sync` is over in a fraction of a second, imports included).
    """
    parser = argparse.ArgumentParser(
        prog="fsreplica",
        description="Watch a directory tree and replicate every change, in real time.",
    )
    parser.add_argument("--version", action="version", version=f"fsreplica {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [command] if command in COMMANDS else list(COMMANDS)
    for name in names:
        module = importlib.import_module(f"fsreplica.cli.{COMMANDS[name]}")
        module.add_parser(sub, name)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand `command`."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return parser  # pragma: no cover - every command has a subparser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    # The first word that is not an option names the subcommand (top-level options take no value).
    command = next((arg for arg in args_list if not arg.startswith("-")), None)
    parser = build_parser(command)
    try:
        args, unknown = parser.parse_known_args(args_list)
        if unknown:
            # Said by the subcommand's parser, so the usage shown is the one that was misspelt.
            subparser = _subparser(parser, args.command)
            subparser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    configure_logging(verbosity=args.verbose - args.quiet, fmt=args.log_format)
    module = importlib.import_module(f"fsreplica.cli.{COMMANDS[args.command]}")
    try:
        code: int = module.run(args)
    except InternalError as exc:
        code = internal_error(exc, verbose=args.verbose > 0)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    logging.shutdown()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["EXIT_USAGE", "main"]
