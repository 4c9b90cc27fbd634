"""Per-model caching facts: minimum cacheable prefix, breakpoints, lookback, TTLs and prices.

One dated table per provider, so a new model or a price change is a one-line edit. Sources are
``shared/PROVIDER_FACTS.md`` (checked against anthropic 2.12.0, openai 3.54.0 and google-genai
3.4.0) and the providers' pricing pages; entries the sheet marks as unconfirmed say so in
``note``. A model id is matched by its longest known prefix, after stripping platform decorations
(``us.anthropic.`` and ``-v1:0`` on Bedrock, ``@date`` on Vertex, ``models/`` on Gemini).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Literal

from promptcache.errors import UnknownModelError

__all__ = [
    "ANTHROPIC_MODELS",
    "FACTS_CHECKED",
    "GEMINI_MODELS",
    "OPENAI_MODELS",
    "TTL_SECONDS",
    "ModelLimits",
    "Platform",
    "Provider",
    "limits_for",
]

#: The day the tables below were last checked against the providers' documentation and SDKs.
FACTS_CHECKED = date(2026, 11, 23)

Provider = Literal["anthropic", "openai", "gemini"]
Platform = Literal["api", "bedrock", "vertex"]

#: Every TTL any provider accepts, in seconds.
TTL_SECONDS: Mapping[str, int] = MappingProxyType(
    {"5m": 300, "30m": 1_800, "1h": 3_600, "12h": 43_200, "24h": 86_400}
)

_ANTHROPIC_WRITE = MappingProxyType({"5m": 1.25, "1h": 2.0})


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLimits:
    """What one model allows and costs for prompt caching. Prices are US dollars per million tokens."""

    provider: Provider
    #: The model family this row describes (the matched id prefix).
    model: str
    #: Below this many tokens of prefix a breakpoint caches nothing (and no error is returned).
    min_cacheable_tokens: int
    #: Maximum explicit cache breakpoints in one request (Anthropic: 4, automatic caching included).
    max_breakpoints: int = 4
    #: How many block positions, ending at a breakpoint, the provider checks for an earlier entry.
    lookback_blocks: int = 20
    #: Base input price; ``None`` where no confirmed price exists (dollar figures are then omitted).
    input_price: float | None = None
    output_price: float | None = None
    #: Cache read price as a multiple of ``input_price``.
    cache_read_multiplier: float = 0.1
    #: Cache write price per TTL as a multiple of ``input_price`` (empty: writes are free).
    cache_write_multipliers: Mapping[str, float] = field(default_factory=lambda: _ANTHROPIC_WRITE)
    #: Dollars per million cached tokens per hour of storage (Gemini explicit caches).
    storage_price_per_mtok_hour: float | None = None
    #: Whether the request-level automatic ``cache_control`` is accepted.
    automatic_caching: bool = True
    #: Whether cached-token counts are rounded down to a multiple of 128 (OpenAI before GPT-5.6).
    rounds_to_128: bool = False
    #: Whether explicit breakpoints exist at all (OpenAI: GPT-5.6 and later; Gemini: via caches).
    explicit_breakpoints: bool = True
    platform: Platform = "api"
    note: str = ""

    @property
    def ttls(self) -> tuple[str, ...]:
        """The TTLs this model accepts for a cache write, shortest first."""
        return tuple(sorted(self.cache_write_multipliers, key=lambda t: TTL_SECONDS[t]))

    def write_multiplier(self, ttl: str) -> float:
        """Price of a cache write as a multiple of the input price (1.0 where writes are free)."""
        return self.cache_write_multipliers.get(ttl, 1.0)


def _a(model: str, minimum: int, input_price: float | None, output_price: float | None,
       note: str = "", *, bedrock_minimum: int | None = None) -> tuple[str, ModelLimits, int]:
    row = ModelLimits(
        provider="anthropic", model=model, min_cacheable_tokens=minimum,
        input_price=input_price, output_price=output_price, note=note,
    )
    return model, row, bedrock_minimum if bedrock_minimum is not None else minimum


# Anthropic, checked 2026-11-23. Minimums from the newest prompt-caching page revision
# (Claude API, AWS, Google Cloud, Foundry); Bedrock differs where bedrock_minimum is given.
_ANTHROPIC_ROWS = [
    _a("claude-fable-5", 512, None, None, "price unconfirmed", bedrock_minimum=1_024),
    _a("claude-mythos-5", 512, None, None, "price unconfirmed", bedrock_minimum=1_024),
    _a("claude-mythos-preview", 2_048, None, None, "price unconfirmed"),
    _a("claude-opus-5", 512, None, None, "minimum from model pages; price unconfirmed"),
    _a("claude-sonnet-5", 1_024, None, None, "price unconfirmed"),
    _a("claude-opus-4-8", 1_024, 5.0, 25.0),
    _a("claude-opus-4-7", 2_048, 5.0, 25.0),
    _a("claude-opus-4-6", 4_096, 5.0, 25.0),
    _a("claude-opus-4-5", 4_096, 5.0, 25.0),
    _a("claude-opus-4-1", 1_024, 15.0, 75.0),
    _a("claude-opus-4", 1_024, 15.0, 75.0),
    _a("claude-sonnet-4-6", 1_024, 3.0, 15.0, "an earlier doc revision said 2,048"),
    _a("claude-sonnet-4-5", 1_024, 3.0, 15.0),
    _a("claude-sonnet-4", 1_024, 3.0, 15.0),
    _a("claude-3-7-sonnet", 1_024, 3.0, 15.0, "minimum from an older doc revision"),
    _a("claude-haiku-4-5", 4_096, 1.0, 5.0),
    _a("claude-3-5-haiku", 2_048, 0.80, 4.0),
    _a("claude-3-haiku", 2_048, 0.25, 1.25, "minimum and price from older doc revisions"),
]

ANTHROPIC_MODELS: Mapping[str, ModelLimits] = MappingProxyType(
    {name: row for name, row, _ in _ANTHROPIC_ROWS}
)
_ANTHROPIC_BEDROCK_MIN: Mapping[str, int] = MappingProxyType(
    {name: b for name, _, b in _ANTHROPIC_ROWS}
)

_OPENAI_EXPLICIT = MappingProxyType({"30m": 1.25, "12h": 1.25})


def _o(model: str, minimum: int, input_price: float | None, output_price: float | None,
       read: float, *, explicit: bool = False, note: str = "") -> ModelLimits:
    return ModelLimits(
        provider="openai", model=model, min_cacheable_tokens=minimum,
        # SDK 3.54.0: "Each request can write up to four breakpoints ... OpenAI considers up to
        # the latest 80 breakpoints in the conversation, without a content-block lookback limit"
        # (lookback_blocks=0 means unlimited).
        max_breakpoints=4 if explicit else 0, lookback_blocks=0,
        input_price=input_price, output_price=output_price, cache_read_multiplier=read,
        cache_write_multipliers=_OPENAI_EXPLICIT if explicit else MappingProxyType({}),
        automatic_caching=True, rounds_to_128=not explicit, explicit_breakpoints=explicit,
        note=note,
    )


# OpenAI, checked 2026-11-23. Caching is automatic; GPT-5.6+ adds explicit breakpoints with a
# 1.25x write and exact boundaries, earlier models round cached tokens down to 128 and charge no
# write. Minimum: 1,024 on GPT-5.6+, 2,048 on earlier models (newest doc revision).
OPENAI_MODELS: Mapping[str, ModelLimits] = MappingProxyType({
    "gpt-5.6": _o("gpt-5.6", 1_024, None, None, 0.1, explicit=True,
                  note="prices unconfirmed; 4 breakpoints written per request, SDK says 80 "
                       "considered for matching, docs say 50"),
    "gpt-5.5": _o("gpt-5.5", 2_048, None, None, 0.1, note="accepts only 24h retention"),
    "gpt-5-mini": _o("gpt-5-mini", 2_048, 0.25, 2.0, 0.1),
    "gpt-5": _o("gpt-5", 2_048, 1.25, 10.0, 0.1),
    "gpt-4.1-mini": _o("gpt-4.1-mini", 2_048, 0.40, 1.60, 0.25),
    "gpt-4.1": _o("gpt-4.1", 2_048, 2.0, 8.0, 0.25),
    "gpt-4o-mini": _o("gpt-4o-mini", 2_048, 0.15, 0.60, 0.5),
    "gpt-4o": _o("gpt-4o", 2_048, 2.50, 10.0, 0.5),
})


def _g(model: str, minimum: int, input_price: float | None, output_price: float | None,
       read_price: float | None, storage: float | None, note: str = "") -> ModelLimits:
    read = read_price / input_price if read_price is not None and input_price else 0.25
    return ModelLimits(
        provider="gemini", model=model, min_cacheable_tokens=minimum, max_breakpoints=1,
        lookback_blocks=0, input_price=input_price, output_price=output_price,
        cache_read_multiplier=read, cache_write_multipliers=MappingProxyType({}),
        storage_price_per_mtok_hour=storage, automatic_caching=True, note=note,
    )


# Gemini, checked 2026-11-23: implicit-caching minimum 2,048 for 2.5 Flash and Pro, 4,096 for
# Gemini 3.x (docs "Last updated 2026-10-13"). Explicit caches: cached-token price plus storage
# per million tokens per hour. 2.5 Flash prices come from third-party quotes of the pricing page.
GEMINI_MODELS: Mapping[str, ModelLimits] = MappingProxyType({
    "gemini-2.5-pro": _g("gemini-2.5-pro", 2_048, 1.25, 10.0, 0.125, 4.50,
                         "prices for prompts <= 200k tokens"),
    "gemini-2.5-flash": _g("gemini-2.5-flash", 2_048, 0.30, 2.50, 0.03, 1.00,
                           "prices from third-party quotes"),
    "gemini-3": _g("gemini-3", 4_096, None, None, None, None, "prices unconfirmed"),
})

_TABLES: Mapping[Provider, Mapping[str, ModelLimits]] = MappingProxyType({
    "anthropic": ANTHROPIC_MODELS, "openai": OPENAI_MODELS, "gemini": GEMINI_MODELS,
})

_GPT_VERSION = re.compile(r"^gpt-(?P<major>\d+)(?:\.(?P<minor>\d+))?(?=$|[-.])")
#: The first OpenAI generation with explicit breakpoints; later ones inherit its row.
_OPENAI_EXPLICIT_FROM = (5, 6)


def _openai_generation(key: str) -> tuple[int, int] | None:
    """``(5, 7)`` for ``gpt-5.7-mini``, ``(6, 0)`` for ``gpt-6``; None for other ids."""
    m = _GPT_VERSION.match(key)
    if m is None:
        return None
    return int(m.group("major")), int(m.group("minor") or 0)


_BEDROCK_ID = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.(?P<id>.+?)(?:-v\d+(?::\d+)?)?$")


def _normalise(model: str) -> str:
    m = model.strip().lower()
    if m.startswith("models/"):
        m = m[len("models/"):]
    bedrock = _BEDROCK_ID.match(m)
    if bedrock:
        m = bedrock.group("id")
    return m.split("@", 1)[0]


def limits_for(model: str, *, provider: Provider | None = None, platform: Platform = "api") -> ModelLimits:
    """The caching limits and prices of ``model``, matched by its longest known id prefix.

    ``provider`` is inferred from the id when omitted. Raises :class:`UnknownModelError` naming the
    known families when nothing matches: guessing a minimum would silently waste breakpoints.
    """
    key = _normalise(model)
    providers: tuple[Provider, ...] = (provider,) if provider else ("anthropic", "openai", "gemini")
    best: tuple[str, Provider] | None = None
    for p in providers:
        for name in _TABLES[p]:
            if (key == name or key.startswith(name + "-") or key.startswith(name + ".")) and (
                best is None or len(name) > len(best[0])
            ):
                best = (name, p)
    if provider in (None, "openai"):
        generation = _openai_generation(key)
        matched = _openai_generation(best[0]) if best is not None else None
        if generation is not None and generation >= _OPENAI_EXPLICIT_FROM and (
            matched is None or matched < _OPENAI_EXPLICIT_FROM
        ):
            # GPT-5.6 and every later generation: explicit caching, exact boundaries. Without
            # this, "gpt-5.7" would match the "gpt-5" row by prefix and lose explicit caching.
            major, minor = generation
            return replace(OPENAI_MODELS["gpt-5.6"], model=f"gpt-{major}.{minor}")
    if best is None:
        known = ", ".join(sorted(n for p in providers for n in _TABLES[p]))
        raise UnknownModelError(
            f"No caching limits are known for model {model!r}. Known model families: {known}. "
            "Pass limits=ModelLimits(...) explicitly, or add a row to promptcache/limits.py."
        )
    name, p = best
    row = _TABLES[p][name]
    if p == "anthropic" and platform != "api":
        minimum = _ANTHROPIC_BEDROCK_MIN[name] if platform == "bedrock" else row.min_cacheable_tokens
        row = replace(row, platform=platform, min_cacheable_tokens=minimum,
                      automatic_caching=platform != "bedrock")
    return row
