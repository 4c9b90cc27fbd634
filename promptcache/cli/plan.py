"""``promptcache plan REQUEST.json``: where promptcache would put the breakpoints, and why.

Reads one request (a JSON object), reads it as the provider its shape is for (the registry's
``spec_for_request``: Anthropic ``messages.create``, OpenAI ``chat.completions``/``responses``,
Gemini ``generate_content``, Bedrock ``converse``), plans it and prints what that provider's
``preview`` returns: for the breakpoint providers (Anthropic, Converse) the optimizer's layers,
the breakpoints it places with the reason for each, the candidates it rejected and the expected
cost; for the others their ProviderPlan. Markers already in the request are kept as the user's
(the optimizer never drops one); ``--ignore-markers`` plans from scratch instead.
``--provider NAME`` plans the request for another provider (any registry entry with a
``preview``). Credentials in ``extra_headers``/``extra_body`` are masked in the output and in
error messages.

No provider module is imported until a request needs it, and never an SDK: the command starts in
a fraction of a second (``benchmarks/bench_cli.py``).
"""

from __future__ import annotations

import argparse
import warnings
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptcache.cli._io import fail, print_json, read_json, redact, secrets_of
from promptcache.errors import CacheWarning, PromptCacheError, PromptError
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.replay.workloads import strip_cache_control

if TYPE_CHECKING:
    from promptcache.providers.common import Preview, Rendered
    from promptcache.providers.spec import ProviderSpec

HELP = "Show the breakpoints promptcache would place on a request, and why."


def providers() -> tuple[str, ...]:
    """The ``--provider`` choices: every registry entry that can preview a plan."""
    from promptcache.providers.registry import SPECS

    return tuple(s.name for s in SPECS if s.preview is not None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request", metavar="REQUEST.json",
                        help="a request as a JSON object: messages.create, chat.completions or "
                             "responses.create, generate_content, or converse ('-' reads stdin)")
    parser.add_argument("--provider", choices=providers(),
                        help="plan for this provider's API (default: the one the request's "
                             "shape is for)")
    parser.add_argument("--model",
                        help="the target model (default: the request's); needed with --provider "
                             "when the request is another provider's")
    parser.add_argument("--api", choices=("chat", "responses"),
                        help="with --provider openai: chat.completions or responses (default: "
                             "the request's shape, else chat)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--automatic", choices=("5m", "1h"),
                        help="reserve the request-level automatic cache_control with this TTL "
                             "(default: the request's own cache_control, if any)")
    parser.add_argument("--ignore-markers", action="store_true",
                        help="drop the cache markers already in the request and plan from "
                             "scratch")


def load_request(path: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``-``: stdin); errors name the file and the position."""
    data = read_json(path)
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


def _request_ttl(request: dict[str, Any]) -> str | None:
    """The TTL of a request-level ``cache_control`` (the automatic mode), kept through planning."""
    marker = request.get("cache_control")
    if isinstance(marker, dict):
        ttl = marker.get("ttl", "5m")
        return ttl if isinstance(ttl, str) else None
    return None


def _provider_json(rendered: Rendered) -> dict[str, Any]:
    p = rendered.plan
    return {"provider": p.provider, "api": p.api, "model": p.model, "mode": p.mode,
            "cached_prefix_tokens": p.cached_prefix_tokens, "total_tokens": p.total_tokens,
            "breakpoints": [{"path": path, "ttl": ttl} for path, ttl in p.breakpoints],
            "settings": dict(p.settings), "dropped": list(p.dropped), "notes": list(p.notes),
            "expected": {"units": p.expected_units, "uncached_units": p.uncached_units,
                         "usd": p.expected_usd, "uncached_usd": p.uncached_usd,
                         "savings_ratio": p.savings_ratio},
            "request": redact(dict(rendered.kwargs))}


def _source(request: dict[str, Any]) -> tuple[ProviderSpec, str]:
    """The provider and API the request's shape is for; the first provider's (Anthropic) when no
    shape matches, so its reader names what is missing."""
    from promptcache.providers.registry import SPECS, spec_for_request

    found = spec_for_request(request)
    if found is not None and found[0].read_prompt is not None:
        return found
    return SPECS[0], SPECS[0].default_api(request)


def _preview(args: argparse.Namespace, request: dict[str, Any], automatic: str | None
             ) -> tuple[ProviderSpec, Preview]:
    """The request read by its own provider, planned by the target (``--provider``) one."""
    from promptcache.providers.registry import spec_named

    source, api = _source(request)
    target = spec_named(args.provider) if args.provider else source
    if args.ignore_markers and source.strip_markers is not None:
        request = source.strip_markers.load()(request)
    assert source.read_prompt is not None and target.preview is not None
    prompt: Prompt = source.read_prompt.load()(request, api)
    if target is not source and not args.model:
        raise PromptError(f"--provider {target.name}: {prompt.model!r} is a {source.name} model; "
                          f"pass the {target.name} model with --model.", path="model")
    preview: Preview = target.preview.load()(
        prompt, model=args.model, api=args.api or (api if target is source else None),
        automatic=automatic)
    return target, preview


def run(args: argparse.Namespace) -> int:
    request: dict[str, Any] = {}
    try:
        request = load_request(args.request)
        return _run(args, request)
    except PromptCacheError as err:
        return fail(err, secrets_of(request))


def _run(args: argparse.Namespace, request: dict[str, Any]) -> int:
    automatic = args.automatic or _request_ttl(request)
    if args.ignore_markers:
        request = strip_cache_control(request)
        automatic = args.automatic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheWarning)
        target, preview = _preview(args, request, automatic)
    console = Console(highlight=False, soft_wrap=True)
    messages = [str(c.message) for c in caught]
    if preview.rendered is not None:
        if args.json:
            print_json({**_provider_json(preview.rendered), "warnings": messages})
            return 0
        console.print(preview.rendered.plan.explain(), markup=False)
        for m in messages:
            console.print(f"[yellow]warning:[/yellow] {escape(m)}")
        return 0
    plan = preview.plan
    assert plan is not None
    if args.json:
        rendered = redact(dict(preview.request)) if preview.request is not None else None
        print_json({**plan_to_json(plan, rendered), "provider": target.name})
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
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    shown = set(plan.warnings)
    for m in messages:
        if m not in shown:
            console.print(f"[yellow]warning:[/yellow] {escape(m)}")
    return 0
