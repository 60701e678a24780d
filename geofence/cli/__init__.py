"""The ``geofence`` command line.

Each subcommand lives in its own module of this package and registers itself in ``COMMANDS``
as a ``(name, add_arguments, run)`` entry; ``main`` builds the parser from them. Exit codes are
shared: 0 all allowed / valid / passed, 1 something not allowed / failed, 2 a usage, policy or
data error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from geofence.errors import GeofenceError

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_NOT_ALLOWED", "EXIT_OK", "Command", "main"]

EXIT_OK, EXIT_NOT_ALLOWED, EXIT_ERROR = 0, 1, 2


class Command:
    """One subcommand: its name, help, how to add its arguments, and how to run it."""

    __slots__ = ("add_arguments", "help", "name", "run")

    def __init__(
        self,
        name: str,
        help: str,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
    ) -> None:
        self.name = name
        self.help = help
        self.add_arguments = add_arguments
        self.run = run


COMMANDS: list[Command] = []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geofence", description="Geographic access policies for API servers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.name, help=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    _load_commands()
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    (command,) = [c for c in COMMANDS if c.name == args.command]
    try:
        return command.run(args)
    except GeofenceError as exc:
        print(f"geofence: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _load_commands() -> None:
    # Importing a command module registers its commands; imported here, not at the top, so the
    # modules can import this one for COMMANDS and the exit codes.
    from geofence.cli import audit, core, feeds, replay, testcases  # noqa: F401
