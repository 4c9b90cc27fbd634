"""``promptcache diff A.json B.json``: why request B misses the cache request A wrote.

Exit codes, like ``diff(1)``: 0 when B can read everything A cached (identical, marker-only,
extended, or a change after A's last cache entry), 1 when some of A's cached tokens are lost,
2 for a usage or parse error.
"""

from __future__ import annotations

import argparse
from typing import Any

from promptcache.cli._io import fail, print_json, read_json, secrets_of
from promptcache.diagnostics.diff import CacheDiff, diff_requests
from promptcache.errors import PromptCacheError

HELP = "Compare two requests block by block: shared prefix, first difference, invalidated levels, cost."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.json", help="the earlier request (keyword arguments)")
    parser.add_argument("b", metavar="B.json", help="the later request")
    parser.add_argument("--provider", choices=("anthropic", "openai", "gemini"),
                        help="override the provider detected from the request shape")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _print_rich(result: CacheDiff) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    c = result.change
    table = Table(title=f"Cache diff ({result.provider}, {result.model_b})", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    shared = (f"{result.shared_blocks} blocks, ~{result.shared_tokens:,} tokens, through "
              f"{result.shared_path}" if result.shared_blocks else "nothing")
    table.add_row("shared prefix", shared)
    table.add_row("change", f"{c.kind} at {c.path_b or c.path_a or '-'}: {c.detail}")
    table.add_row("invalidated", ", ".join(result.invalidated) or "nothing")
    table.add_row("table row", ", ".join(c.rows) or "-")
    if result.marker_changes:
        table.add_row("marker-only", ", ".join(result.marker_changes) + " (never invalidate)")
    if result.also_changed:
        table.add_row("also changed", ", ".join(result.also_changed))
    table.add_row("tokens", f"A cached ~{result.cached_tokens_a:,}; B reads ~{result.read_tokens:,},"
                  f" writes ~{result.rewrite_tokens:,}; miss ~{result.miss_tokens:,}")
    if result.miss_cost is not None:
        table.add_row("miss cost", f"${result.miss_cost:.4f}")
    console.print(table)


def run(args: argparse.Namespace) -> int:
    a: Any = None
    b: Any = None
    try:
        a = read_json(args.a)
        b = read_json(args.b)
        result = diff_requests(a, b, provider=args.provider)
    except PromptCacheError as e:
        return fail(e, [*secrets_of(a), *secrets_of(b)])
    if args.json:
        print_json(result.to_dict())
    else:
        _print_rich(result)
    return 0 if result.hit else 1
