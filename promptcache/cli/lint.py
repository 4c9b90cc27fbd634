"""``promptcache lint REQUEST.json|TRACE.jsonl``: what in a request or a trace defeats caching.

Exit codes for CI: 0 when no finding reaches ``--fail-on`` (default: warning), 1 when one does,
2 for a usage or parse error. A ``.jsonl`` file (or a ``.json`` list) is a trace of
``{"t": seconds, "request": {...}}`` records; any other ``.json`` is one request.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from promptcache.cli._io import fail, print_json, read_json
from promptcache.diagnostics import SEVERITIES, LintFinding, lint_request, lint_trace, load_trace
from promptcache.errors import PromptCacheError

HELP = "Find what defeats prompt caching in a request (.json) or a recorded trace (.jsonl)."

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="REQUEST.json|TRACE.jsonl")
    parser.add_argument("--fail-on", choices=SEVERITIES, default="warning",
                        help="exit 1 when a finding is at least this severe (default: warning)")
    parser.add_argument("--provider", choices=("anthropic", "openai", "gemini"),
                        help="override the provider detected from the request shape")
    parser.add_argument("--json", action="store_true", help="print findings as a JSON list")


def _findings(args: argparse.Namespace) -> list[LintFinding]:
    if args.file.endswith(".jsonl"):
        return lint_trace(load_trace(args.file), provider=args.provider)
    data: Any = read_json(args.file)
    if isinstance(data, list):
        return lint_trace(data, provider=args.provider)
    return lint_request(data, provider=args.provider)


def _print_rich(findings: Sequence[LintFinding], path: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    if not findings:
        console.print(f"{path}: no findings.")
        return
    table = Table(title=f"{path}: {len(findings)} finding(s)")
    for column in ("severity", "rule", "path", "message", "fix"):
        table.add_column(column)
    for f in findings:
        table.add_row(f"[{_STYLE[f.severity]}]{f.severity}[/]", f.rule, f.path, f.message, f.fix)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    try:
        findings = _findings(args)
    except PromptCacheError as e:
        return fail(e)
    if args.json:
        print_json([f.to_dict() for f in findings])
    else:
        _print_rich(findings, args.file)
    threshold = SEVERITIES.index(args.fail_on)
    return 1 if any(SEVERITIES.index(f.severity) >= threshold for f in findings) else 0
