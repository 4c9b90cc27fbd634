"""OpenAI adapter: one Prompt rendered for ``chat.completions.create`` and ``responses.create``.

OpenAI caches prompt prefixes automatically; what a client controls is (1) that the prefix is
byte-stable (stable layers first, tools and schemas serialised with sorted keys, the
conversation last), (2) routing, with ``prompt_cache_key`` (here the stable prefix's fingerprint,
so every process sending the same prefix lands on the same machines), and (3) retention:
``prompt_cache_retention`` before GPT-5.6, and on GPT-5.6+ explicit ``prompt_cache_breakpoint``
markers placed by the same optimizer as Anthropic's, with OpenAI's limits (4 writes per request,
no lookback limit, 30m/12h at 1.25x, reads at 0.1x), plus ``prompt_cache_options``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Literal

from promptcache.errors import PromptError, RuleViolation
from promptcache.limits import ModelLimits, limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.common import (
    CacheMode,
    DroppedPolicy,
    Preview,
    ProviderPlan,
    Rendered,
    canonical,
    field_of,
    prefix_key,
    require_installed,
    require_turns,
    retarget,
    shared_end,
    stable_end,
    stop_list,
    warn_dropped,
    with_marking,
)
from promptcache.providers.openai.messages import Api, Translation, translate, unmarkable_reason

__all__ = ["IN_MEMORY_WINDOW", "preview_openai", "render_openai_chat", "render_openai_responses"]

Retention = Literal["in_memory", "24h"]

#: How long an ``in_memory`` entry survives idle, conservatively (the docs say 5 to 10 minutes).
IN_MEMORY_WINDOW = 300.0
_RETENTION_WINDOW = MappingProxyType({"in_memory": IN_MEMORY_WINDOW, "24h": 86_400.0})
#: Anthropic TTLs a hand-set marker may carry, mapped to the nearest OpenAI TTL not shorter.
_TTL_MAP = MappingProxyType({"5m": "30m", "1h": "12h"})
#: Options every SDK method takes (headers, query, timeout), passed through as they are. Not
#: ``extra_body``: its fields are the Anthropic API's, so it is reported as not sent.
_SDK_OPTIONS = ("extra_headers", "extra_query", "timeout")
#: Anthropic ``tool_choice.type`` to OpenAI's string form.
_CHOICES = MappingProxyType({"auto": "auto", "any": "required", "none": "none"})


#: What to install when the openai SDK is missing.
_MISSING = 'The OpenAI adapter needs the openai SDK: pip install "promptcache" (or openai>=3.54).'


def _system_role(model: str) -> str:
    """``developer`` for reasoning-era models (o-series, GPT-5+), ``system`` before them."""
    return "developer" if model.startswith(("o1", "o3", "o4", "gpt-5", "gpt-6", "gpt-7")) else "system"


def _api_limits(lim: ModelLimits, api: Api) -> ModelLimits:
    """Chat accepts only the 30m TTL in 3.54.0 (``PromptCacheOptions.ttl: Literal["30m"]``)."""
    if api == "chat" and lim.explicit_breakpoints:
        return replace(lim, cache_write_multipliers=MappingProxyType(
            {"30m": lim.write_multiplier("30m")}))
    return lim


def _annotate(prompt: Prompt, model: str, api: Api, lim: ModelLimits) -> tuple[Prompt, list[str]]:
    """``prompt`` for ``model``: what OpenAI cannot mark made unmarkable, user TTLs mapped."""
    notes: list[str] = []
    role_of = {i: t.role for t in prompt.turns for i in range(t.start, t.stop)}
    blocks = []
    for i, block in enumerate(prompt.blocks):
        reason = unmarkable_reason(api, block.payload, block.section, role_of.get(i, "user"))
        ttl = block.user_ttl
        if ttl is not None:
            mapped = _TTL_MAP[ttl] if _TTL_MAP[ttl] in lim.ttls else (lim.ttls[-1] if lim.ttls else None)
            if not lim.explicit_breakpoints:
                notes.append(f"{block.path}: cache_control ({ttl}) not sent: {lim.model} has "
                             "automatic caching only")
                mapped = None
            elif reason:
                notes.append(f"{block.path}: cache_control ({ttl}) not sent: {reason}")
                mapped = None
            elif mapped != ttl:
                notes.append(f"{block.path}: cache_control ttl {ttl} sent as {mapped}")
            ttl = mapped
        blocks.append(with_marking(block, unmarkable=reason or block.unmarkable, user_ttl=ttl))
    # Tools sorted by name within their layer, with their keys sorted as they are sent, so the
    # fingerprint (the routing key) and the serialisation do not depend on the order tools or
    # schema keys were written in.
    for layer in prompt.layers:
        if layer.section == "tools":
            blocks[layer.start:layer.stop] = sorted(
                (replace(b, payload=canonical(b.payload, b.path)) for b in blocks[layer.start:layer.stop]),
                key=lambda b: str(b.payload["name"]))
    return retarget(prompt, model, blocks), notes


def _params(prompt: Prompt, api: Api) -> tuple[dict[str, Any], list[str]]:
    """The Anthropic-shaped call parameters in OpenAI's names; the rest reported as dropped."""
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in prompt.params.items():
        if name == "max_tokens":
            out["max_output_tokens" if api == "responses" else "max_completion_tokens"] = value
        elif name in ("temperature", "top_p", "stream", "metadata", *_SDK_OPTIONS):
            out[name] = value
        elif name == "stop_sequences" and api == "chat":
            if (stop := stop_list(value)) is not None:
                out["stop"] = stop
        elif name == "tool_choice" and isinstance(value, Mapping):
            out.update(_tool_choice(value, api))
        else:
            dropped.append(f"{name}: not sent (no {api} equivalent of the Anthropic parameter)")
    return out, dropped


def _tool_choice(value: Mapping[str, Any], api: Api) -> dict[str, Any]:
    """Anthropic's ``tool_choice`` as OpenAI's ``tool_choice`` and ``parallel_tool_calls``.

    ``disable_parallel_tool_use`` is a separate parameter on OpenAI; leaving it out would let the
    model call several tools at once where the caller asked for one.
    """
    kind = value.get("type")
    out: dict[str, Any] = {}
    if kind == "tool":
        name = field_of(value, "name", "tool_choice", "tool_choice of type 'tool'")
        out["tool_choice"] = ({"type": "function", "name": name} if api == "responses"
                              else {"type": "function", "function": {"name": name}})
    elif isinstance(kind, str) and kind in _CHOICES:
        out["tool_choice"] = _CHOICES[kind]
    else:
        raise PromptError(f"tool_choice.type: {kind!r} is not one of 'auto', 'any', 'tool', "
                          "'none'; the API rejects the request.", path="tool_choice.type")
    disable = value.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise PromptError("tool_choice.disable_parallel_tool_use: must be true or false (got "
                          f"{type(disable).__name__}).", path="tool_choice.disable_parallel_tool_use")
    if disable and kind != "none":
        out["parallel_tool_calls"] = False
    return out


def _check_tool_choice(params: dict[str, Any], t: Translation, dropped: list[str]) -> None:
    """Tool choice only with tools (OpenAI answers 400 otherwise), naming a tool that is sent."""
    choice = params.get("tool_choice")
    if choice is None and "parallel_tool_calls" not in params:
        return
    names = {str(tool.get("name") or tool.get("function", {}).get("name")) for tool in t.tools}
    if not names:
        for key in ("tool_choice", "parallel_tool_calls"):
            if params.pop(key, None) is not None:
                dropped.append(f"{key}: not sent (no tool is sent, and OpenAI rejects {key} "
                               "without tools)")
        return
    if isinstance(choice, Mapping):
        name = choice.get("name") or choice.get("function", {}).get("name")
        if name not in names:
            raise PromptError(f"tool_choice.name: {name!r} is not among the tools sent "
                              f"({', '.join(sorted(names))}); the API rejects the request.",
                              path="tool_choice.name")


def _retention(prompt: Prompt, lim: ModelLimits, requested: Retention | None) -> tuple[Retention, str]:
    """``in_memory`` when the stable prefix's reuse fits the in-memory window, else ``24h``."""
    only_24h = lim.model.startswith("gpt-5.5")
    if requested is not None:
        if only_24h and requested != "24h":
            raise RuleViolation(
                f"prompt_cache_retention={requested!r}: {lim.model} accepts only '24h'; the API "
                "rejects the request. Pass retention='24h' or leave it to promptcache.",
                path="prompt_cache_retention", rule="retention-24h-only")
        return requested, "retention given by the caller"
    if only_24h:
        return "24h", f"{lim.model} accepts only 24h retention"
    end = stable_end(prompt)
    if end == 0:
        return "24h", "no stable prefix; 24h keeps whatever is cached longest at no extra cost"
    # The least frequently reused stable layer decides: retention applies to the whole prefix.
    q = min(layer.reuse.hit_probability(IN_MEMORY_WINDOW) for layer in prompt.layers
            if layer.stop <= end)
    if q >= 0.95:
        return "in_memory", (f"{q:.0%} of reuse gaps fit the ~5 min in-memory window: nothing needs "
                             "to be kept beyond memory")
    return "24h", (f"only {q:.0%} of reuse gaps fit the ~5 min in-memory window; 24h retention "
                   "costs nothing extra on this model")


def _implicit_estimate(prompt: Prompt, lim: ModelLimits, retention: Retention) -> tuple[int, float]:
    """(tokens cached when warm, expected units per request) for automatic caching only."""
    end = stable_end(prompt)
    stable = prompt.prefix_tokens[end - 1] if end else 0
    cacheable = stable - stable % 128 if lim.rounds_to_128 else stable
    if cacheable < lim.min_cacheable_tokens:
        return 0, float(prompt.total_tokens)
    q = prompt.layer_of(end - 1).reuse.hit_probability(_RETENTION_WINDOW[retention])
    per_token = q * lim.cache_read_multiplier + (1 - q)
    return cacheable, cacheable * per_token + (prompt.total_tokens - cacheable)


def _render(prompt: Prompt, api: Api, *, model: str, prompt_cache_key: str | None,
            retention: Retention | None, prewarm: bool, explicit: bool | None,
            limits: ModelLimits | None, extra: Mapping[str, Any] | None,
            on_dropped: DroppedPolicy) -> Rendered:
    require_installed("openai", _MISSING)  # rendering runs no SDK code: not imported
    require_turns(prompt, "chat completions API" if api == "chat" else "responses API",
                  "messages" if api == "chat" else "input")
    base = limits if limits is not None else limits_for(model, provider="openai")
    lim = _api_limits(base, api)
    annotated, notes = _annotate(prompt, model, api, lim)
    plan: Plan | None = None
    marks: dict[int, str] = {}
    use_explicit = lim.explicit_breakpoints and explicit is not False
    if explicit and not lim.explicit_breakpoints:
        raise RuleViolation(
            f"explicit=True: {lim.model} has no explicit prompt caching (GPT-5.6 and later do); "
            "its cache is automatic. Drop explicit=True.",
            path="prompt_cache_options", rule="explicit-caching-unsupported")
    if use_explicit:
        plan = optimize(annotated, limits=lim)
        marks = {p.index: p.ttl for p in plan.placements}
        notes.extend(f"{p.path}: {p.reason}" for p in plan.placements)
        notes.extend(f"{r.path} not marked ({r.rule}): {r.reason}" for r in plan.rejected)
    if prewarm and not use_explicit:
        raise RuleViolation(f"prewarm=True: {lim.model} has no prompt_cache_options.prewarm "
                            "(GPT-5.6 and later, responses API).", path="prompt_cache_options.prewarm",
                            rule="prewarm-unsupported")
    t: Translation = translate(annotated, api, marks, system_role=_system_role(model))
    params, dropped_params = _params(annotated, api)
    _check_tool_choice(params, t, dropped_params)
    kwargs: dict[str, Any] = {"model": model}
    if t.tools:
        kwargs["tools"] = t.tools
    kwargs["input" if api == "responses" else "messages"] = t.items
    kwargs.update(params)
    settings: dict[str, str] = {}
    key = prompt_cache_key or prefix_key(annotated, shared_end(annotated))
    if key is not None:
        kwargs["prompt_cache_key"] = key
        settings["prompt_cache_key"] = key
        notes.append("prompt_cache_key " + ("given by the caller" if prompt_cache_key else
                                            "is the fingerprint of the prefix every user shares "
                                            "(static and daily layers): requests sharing it are "
                                            "routed to the same cache"))
    price = lim.input_price / 1e6 if lim.input_price is not None else None
    mode: CacheMode
    if use_explicit and plan is not None:
        ttl = max((p.ttl for p in plan.placements), key=lambda x: lim.ttls.index(x), default="30m")
        options: dict[str, Any] = {"mode": "explicit" if marks else "implicit", "ttl": ttl}
        if prewarm:
            options["prewarm"] = True
        kwargs["prompt_cache_options"] = options
        settings.update({f"prompt_cache_options.{k}": str(v) for k, v in options.items()})
        if not marks:
            notes.append("no breakpoint pays off: implicit mode (OpenAI picks one breakpoint)")
        mode = "explicit" if marks else "implicit"
        cached = max([p.prefix_tokens for p in plan.placements
                      if not annotated.layer_of(p.index).append_only], default=0)
        units, uncached = plan.expected.amortised_units, plan.expected.uncached_units
    else:
        chosen, why = _retention(annotated, lim, retention)
        kwargs["prompt_cache_retention"] = chosen
        settings["prompt_cache_retention"] = chosen
        notes.append(f"prompt_cache_retention={chosen}: {why}")
        cached, units = _implicit_estimate(annotated, lim, chosen)
        uncached = float(annotated.total_tokens)
        mode = "implicit" if cached else "none"
        if not cached:
            notes.append(f"the stable prefix is below {lim.model}'s {lim.min_cacheable_tokens:,}-"
                         "token minimum: nothing will be cached")
    if extra:
        kwargs.update(extra)
    rendered = Rendered(kwargs=kwargs, plan=ProviderPlan(
        provider="openai", api="responses" if api == "responses" else "chat.completions",
        model=model, mode=mode, cached_prefix_tokens=cached, total_tokens=annotated.total_tokens,
        breakpoints=tuple(t.breakpoints), settings=settings,
        dropped=tuple(t.dropped + dropped_params), notes=tuple(notes),
        expected_units=units, uncached_units=uncached,
        expected_usd=units * price if price is not None else None,
        uncached_usd=uncached * price if price is not None else None, base=plan,
    ))
    warn_dropped(rendered.plan, on_dropped, stacklevel=3)  # at the line that called render_*
    return rendered


def render_openai_chat(prompt: Prompt, *, model: str, prompt_cache_key: str | None = None,
                retention: Retention | None = None, explicit: bool | None = None,
                limits: ModelLimits | None = None,
                extra: Mapping[str, Any] | None = None,
                on_dropped: DroppedPolicy = "warn") -> Rendered:
    """Keyword arguments for ``client.chat.completions.create(**rendered.kwargs)``, and the plan.

    ``model`` is the OpenAI model (the Prompt's own is Anthropic's when built for both).
    ``explicit=False`` keeps GPT-5.6+ on automatic caching; ``extra`` is merged last (any other
    chat parameter, e.g. ``response_format``). Content with no OpenAI form is listed in
    ``plan.dropped`` and, by default, told in a :class:`~promptcache.errors.DroppedContentWarning`
    (``on_dropped``: see :data:`~promptcache.providers.common.DroppedPolicy`).
    """
    return _render(prompt, "chat", model=model, prompt_cache_key=prompt_cache_key,
                   retention=retention, prewarm=False, explicit=explicit, limits=limits, extra=extra,
                   on_dropped=on_dropped)


def render_openai_responses(prompt: Prompt, *, model: str, prompt_cache_key: str | None = None,
                     retention: Retention | None = None, prewarm: bool = False,
                     explicit: bool | None = None, limits: ModelLimits | None = None,
                     extra: Mapping[str, Any] | None = None,
                     on_dropped: DroppedPolicy = "warn") -> Rendered:
    """Keyword arguments for ``client.responses.create(**rendered.kwargs)``, and the plan.

    ``prewarm=True`` (GPT-5.6+) writes the cache without generating output: send it once before a
    burst of requests that share the prefix. ``on_dropped`` as for :func:`render_openai_chat`.
    """
    return _render(prompt, "responses", model=model, prompt_cache_key=prompt_cache_key,
                   retention=retention, prewarm=prewarm, explicit=explicit, limits=limits,
                   extra=extra, on_dropped=on_dropped)


def preview_openai(prompt: Prompt, *, model: str | None = None, api: str | None = None,
                   automatic: str | None = None) -> Preview:
    """``prompt`` rendered for chat completions (or ``api="responses"``), with its plan: what
    ``promptcache plan`` prints for OpenAI. ``automatic`` is Anthropic's and not used here. No
    DroppedContentWarning: the plan it prints lists every dropped entry."""
    render = render_openai_responses if api == "responses" else render_openai_chat
    return Preview(rendered=render(prompt, model=model or prompt.model, on_dropped="off"))
