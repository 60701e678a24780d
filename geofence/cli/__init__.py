"""The ``geofence`` command line.

Each subcommand lives in its own module of this package and registers itself in ``COMMANDS``
as a ``Command`` (name, help, example, add_arguments, run); ``main`` builds the parser from them,
prints ``--version`` and suggests the closest command for a mistyped one. Exit codes are shared
(``EXIT_CODES``): 0 ran and all allowed / valid / passed, 1 something denied or a finding, 2 a
usage, policy or data error.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence

from geofence.errors import GeofenceError

__all__ = [
    "COMMANDS",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_NOT_ALLOWED",
    "EXIT_OK",
    "Command",
    "main",
]

EXIT_OK, EXIT_NOT_ALLOWED, EXIT_ERROR = 0, 1, 2
EXIT_CODES = (
    "exit status: 0 ran, everything allowed / valid / passed; "
    "1 something denied, failed or stale (a finding); 2 usage, policy or data error"
)


class Command:
    """One subcommand: its name, help, how to add its arguments, and how to run it."""

    __slots__ = ("add_arguments", "example", "help", "name", "run")

    def __init__(
        self,
        name: str,
        help: str,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
        example: str = "",
    ) -> None:
        self.name = name
        self.help = help
        self.add_arguments = add_arguments
        self.run = run
        self.example = example


COMMANDS: list[Command] = []


def _parser() -> argparse.ArgumentParser:
    from geofence import __version__

    parser = argparse.ArgumentParser(
        prog="geofence",
        description="Geographic access policies for API servers.",
        epilog=f"example:\n  geofence check 8.8.8.8\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"geofence {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        epilog = f"example:\n  {command.example}\n\n{EXIT_CODES}" if command.example else None
        command.add_arguments(
            sub.add_parser(
                command.name,
                help=command.help,
                description=command.help,
                epilog=epilog,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def unknown_choice(kind: str, given: str, known: Sequence[str]) -> str:
    """``unknown command 'chek' (did you mean 'check'?)``: the message for a mistyped name."""
    close = (
        difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
        or [name for name in known if name.startswith(given)][:1]
    )
    hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(known)}"
    return f"unknown {kind} {given!r} ({hint})"


def _mistyped_command(argv: Sequence[str]) -> str | None:
    # argparse's own message lists every choice; an operator wants the one they meant.
    first = next((a for a in argv if not a.startswith("-")), None)
    names = [c.name for c in COMMANDS]
    if first is None or first in names or any(a in ("-h", "--help", "--version") for a in argv):
        return None
    if argv and argv[0] != first:  # an option before the command: let argparse judge it
        return None
    return unknown_choice("command", first, names)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    _load_commands()
    parser = _parser()
    given = list(sys.argv[1:] if argv is None else argv)
    mistyped = _mistyped_command(given)
    if mistyped is not None:
        print(f"geofence: error: {mistyped}", file=sys.stderr)
        return EXIT_ERROR
    try:
        args = parser.parse_args(given)
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
    from geofence.cli import (  # noqa: F401
        audit,
        core,
        feeds,
        replay,
        simulate,
        testcases,
        validate,
    )
