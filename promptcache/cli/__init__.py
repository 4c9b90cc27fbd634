"""The ``promptcache`` command: one module per subcommand, dispatched from here.

Each subcommand module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code). Modules load lazily, so ``promptcache --help`` stays fast
and a subcommand's heavy imports (simulator, matplotlib) cost nothing to the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: Subcommand name -> module under promptcache.cli.
SUBCOMMANDS: dict[str, str] = {
    "demo": "demo",
    "plan": "plan",
    "simulate": "simulate",
    "diff": "diff",
    "lint": "lint",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptcache",
        description="Plan, check and simulate LLM prompt caching (Anthropic, OpenAI, Gemini).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(f"promptcache.cli.{module_name}")
        except ModuleNotFoundError as e:
            if e.name != f"promptcache.cli.{module_name}":
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promptcache`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    code: int = args._run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
