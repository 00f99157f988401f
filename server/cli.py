"""The ``wavescore`` command line.

Each subcommand lives in its own module under :mod:`server.commands` and exposes
``register(subparsers)``, which adds a parser whose ``func`` default takes the parsed
arguments and returns an exit status. Errors from any layer are printed as one line
(``wavescore: error: ...``) with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import server.commands


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand found in :mod:`server.commands`."""
    parser = argparse.ArgumentParser(
        prog="wavescore",
        description="Biosignal annotation server with a streaming viewer.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(server.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"server.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from server.commands._errors import report_error

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        print("wavescore: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI boundary turns every error into one line
        return report_error(exc)
    return status


if __name__ == "__main__":
    sys.exit(main())
