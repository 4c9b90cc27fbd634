"""``promptcache plan REQUEST.json``: where promptcache would put the breakpoints, and why.

Reads one ``messages.create`` request (a JSON object), runs the optimizer on it and prints its
layers, the breakpoints it places with the reason for each, the candidates it rejected and the
expected cost. Markers already in the request are kept as the user's (the optimizer never drops
one); ``--ignore-markers`` plans from scratch instead.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from promptcache.errors import CacheWarning, PromptCacheError, PromptError
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.providers.anthropic.render import prompt_from_request, render_anthropic
from promptcache.replay.workloads import strip_cache_control

HELP = "Show the breakpoints promptcache would place on a request, and why."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request", metavar="REQUEST.json",
                        help="a messages.create request as a JSON object ('-' reads stdin)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--automatic", choices=("5m", "1h"),
                        help="reserve the request-level automatic cache_control with this TTL")
    parser.add_argument("--ignore-markers", action="store_true",
                        help="drop cache_control already in the request and plan from scratch")


def load_request(path: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``-``: stdin); errors name the file and the position."""
    import sys

    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise PromptError(f"Cannot read {path!r}: {e.strerror or e}.") from e
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise PromptError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, "
                          f"column {e.colno}).") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path}: expected a JSON object of messages.create keyword arguments.")
    return data


def plan_to_json(plan: Plan, request: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON-ready view of ``plan`` (and the rendered request, when it could be rendered)."""
    e = plan.expected
    return {
        "model": plan.model,
        "min_cacheable_tokens": plan.limits.min_cacheable_tokens,
        "max_breakpoints": plan.limits.max_breakpoints,
        "automatic_ttl": plan.automatic_ttl,
        "layers": [{"name": x.name, "section": x.section, "volatility": x.volatility.value,
                    "blocks": x.blocks, "tokens": x.tokens, "prefix_tokens": x.prefix_tokens,
                    "uses": x.uses, "p_within_5m": x.p_within_5m, "p_within_1h": x.p_within_1h}
                   for x in plan.layers],
        "breakpoints": [{"path": p.path, "ttl": p.ttl, "layer": p.layer, "source": p.source,
                         "prefix_tokens": p.prefix_tokens, "reason": p.reason}
                        for p in plan.placements],
        "rejected": [{"path": r.path, "layer": r.layer, "rule": r.rule, "reason": r.reason}
                     for r in plan.rejected],
        "expected": {
            "input_tokens": e.input_tokens, "cache_read_tokens": e.cache_read_tokens,
            "cache_write_5m_tokens": e.cache_write_5m_tokens,
            "cache_write_1h_tokens": e.cache_write_1h_tokens, "cost_units": e.cost_units,
            "uncached_units": e.uncached_units, "amortised_units": e.amortised_units,
            "billed_usd": e.billed_usd, "uncached_usd": e.uncached_usd,
            "amortised_usd": e.amortised_usd, "savings_ratio": e.savings_ratio,
        },
        "warnings": list(plan.warnings),
        "request": request,
    }


def _tables(plan: Plan) -> list[Table]:
    layers = Table(title=f"Layers of the {plan.model} request", title_justify="left")
    for col in ("layer", "volatility", "blocks", "tokens", "prefix", "uses", "≤5m", "≤1h"):
        layers.add_column(col, justify="left" if col in ("layer", "volatility") else "right")
    for x in plan.layers:
        layers.add_row(x.name, x.volatility.value, str(x.blocks), f"{x.tokens:,}",
                       f"{x.prefix_tokens:,}", f"{x.uses:,.0f}", f"{x.p_within_5m:.0%}",
                       f"{x.p_within_1h:.0%}")
    marks = Table(title=f"Breakpoints ({plan.breakpoints}/{plan.limits.max_breakpoints}; "
                        f"minimum prefix {plan.limits.min_cacheable_tokens:,} tokens)",
                  title_justify="left")
    for col in ("path", "ttl", "source", "prefix", "why"):
        marks.add_column(col, justify="right" if col == "prefix" else "left",
                         overflow="fold")
    for p in plan.placements:
        marks.add_row(p.path, p.ttl, p.source, f"{p.prefix_tokens:,}", p.reason)
    for r in plan.rejected:
        marks.add_row(r.path, "—", f"not placed: {r.rule}", "", r.reason, style="dim")
    return [layers, marks]


def run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        request = load_request(args.request)
        if args.ignore_markers:
            request = strip_cache_control(request)
        prompt = prompt_from_request(request)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheWarning)
            plan = optimize(prompt, automatic=args.automatic)
        rendered = render_anthropic(prompt, plan) if "max_tokens" in prompt.params else None
    except PromptCacheError as err:
        console.print(f"[red]error:[/red] {err}", soft_wrap=True)
        return 1
    if args.json:
        print(json.dumps(plan_to_json(plan, rendered), indent=2, ensure_ascii=False))
        return 0
    for table in _tables(plan):
        console.print(table)
    cost = plan.expected
    usd = (f" — ${cost.billed_usd:.6f} vs ${cost.uncached_usd:.6f} uncached"
           if cost.billed_usd is not None and cost.uncached_usd is not None else "")
    console.print(f"This request: read "
                  f"{cost.cache_read_tokens:,}, write 5m {cost.cache_write_5m_tokens:,}, write 1h "
                  f"{cost.cache_write_1h_tokens:,}, uncached {cost.input_tokens:,} tokens{usd}.")
    console.print(f"Steady state: {cost.amortised_units:,.0f} vs {cost.uncached_units:,.0f} "
                  f"token-price units per request ({cost.savings_ratio:.0%} saved).")
    for w in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    shown = set(plan.warnings)
    for c in caught:
        if str(c.message) not in shown:
            console.print(f"[yellow]warning:[/yellow] {c.message}")
    return 0
