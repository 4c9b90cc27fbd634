"""The values a chat session hands back: replies, per-turn usage, statistics, miss and edit reports.

All frozen: a Reply or a SessionStats is a record of what happened, safe to keep, log or compare.
Dollar figures are ``None`` when :mod:`promptcache.limits` knows no price for the model, never a
guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.limits import ModelLimits
from promptcache.plan import Plan

__all__ = ["EditCost", "MissReport", "Reply", "SessionStats", "ToolCall", "TurnUsage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnUsage:
    """The input and output tokens of one request, by cache class, as the provider billed them."""

    #: Input tokens neither read from nor written to the cache (billed at the base price).
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request, whatever its class."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: TurnUsage) -> TurnUsage:
        return TurnUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )

    def cost_usd(self, limits: ModelLimits) -> float | None:
        """What the provider charges for these tokens; ``None`` without a known price."""
        if limits.input_price is None:
            return None
        units = (self.input_tokens + self.cache_read_tokens * limits.cache_read_multiplier
                 + self.cache_write_5m_tokens * limits.write_multiplier("5m")
                 + self.cache_write_1h_tokens * limits.write_multiplier("1h"))
        out = self.output_tokens * (limits.output_price or 0.0)
        return (units * limits.input_price + out) / 1e6

    def uncached_usd(self, limits: ModelLimits) -> float | None:
        """What the same request would cost with no caching at all: the baseline of savings."""
        if limits.input_price is None:
            return None
        return (self.prompt_tokens * limits.input_price
                + self.output_tokens * (limits.output_price or 0.0)) / 1e6


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStats:
    """Running totals of one session: how much was read from cache, and what it saved."""

    requests: int
    usage: TurnUsage
    #: Dollars billed and dollars the same requests would have cost uncached (None: no price).
    cost_usd: float | None
    uncached_usd: float | None

    @property
    def hit_rate(self) -> float:
        """Share of input tokens read from cache."""
        total = self.usage.prompt_tokens
        return self.usage.cache_read_tokens / total if total else 0.0

    @property
    def savings_usd(self) -> float | None:
        if self.cost_usd is None or self.uncached_usd is None:
            return None
        return self.uncached_usd - self.cost_usd

    def summary(self) -> str:
        """One line for a log."""
        u = self.usage
        money = ""
        if self.cost_usd is not None and self.savings_usd is not None:
            money = f"; ${self.cost_usd:.4f} billed, ${self.savings_usd:.4f} saved"
        return (f"{self.requests} requests, hit rate {self.hit_rate:.0%}: read {u.cache_read_tokens:,}, "
                f"written {u.cache_write_tokens:,} (1h {u.cache_write_1h_tokens:,}), uncached "
                f"{u.input_tokens:,}, output {u.output_tokens:,} tokens{money}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MissReport:
    """Why a request read less from cache than the previous one had cached.

    Two witnesses side by side: the provider's own ``diagnostics.cache_miss_reason`` (Anthropic,
    when asked for) and promptcache's comparison of prefix fingerprints, which names the first
    block that changed. They can disagree: the server also knows about evictions and expiry.
    """

    #: ``cache_miss_reason.type`` from the response (``tools_changed``, ``messages_changed``...).
    server_reason: str | None
    #: ``cache_miss_reason.cache_missed_input_tokens`` when the server reported it.
    server_missed_tokens: int | None
    #: Path of the first block that differs from the previous request (None: only appended).
    changed_path: str | None
    changed_layer: str | None
    #: Tokens the plan expected to read and the tokens actually read.
    expected_read: int
    actual_read: int
    explanation: str

    def __str__(self) -> str:
        server = self.server_reason or "none reported"
        return f"cache miss: server says {server}; promptcache: {self.explanation}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EditCost:
    """What an edit of the history, tools, system or documents costs in cache on the next request."""

    #: The first block that differs after the edit (None: the edit changed nothing cached).
    changed_path: str | None
    changed_layer: str | None
    #: Tokens from the first changed block to the end of the history: read before, rewritten next.
    rewrite_tokens: int
    #: Dollars to write them again (5m write price) and the extra over reading them (None: no price).
    rewrite_usd: float | None
    extra_usd: float | None
    explanation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """A ``tool_use`` block of the assistant's reply, for the application to run."""

    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One exchange: the assistant's answer, what it cost, and how the cache behaved."""

    #: The assistant message as appended to the history (content blocks in Anthropic shape).
    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None
    message_id: str | None
    usage: TurnUsage
    plan: Plan
    #: Set when the request read less than the previous request had cached.
    miss: MissReport | None = None
    cost_usd: float | None = None
    #: The provider SDK's response object, untouched.
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text blocks of the answer, joined."""
        return "".join(str(b.get("text", "")) for b in self.content if b.get("type") == "text")

    @property
    def tool_calls(self) -> Sequence[ToolCall]:
        return tuple(ToolCall(id=str(b["id"]), name=str(b["name"]), input=dict(b.get("input") or {}))
                     for b in self.content if b.get("type") == "tool_use")
