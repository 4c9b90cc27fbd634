"""The values a chat session hands back: replies, per-turn usage, statistics, miss and edit reports.

All frozen: a Reply or a SessionStats is a record of what happened, safe to keep, log or compare.
Token and dollar figures are :class:`promptcache.usage.Usage` and :func:`promptcache.usage.cost_of`
underneath, so a session, a :class:`~promptcache.usage.Ledger` and ``parse_usage`` always agree.
Dollar figures are ``None`` when :mod:`promptcache.limits` knows no price for the model, never a
guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.limits import ModelLimits, Provider
from promptcache.plan import Plan
from promptcache.providers.common import ProviderPlan
from promptcache.usage import Usage, UsageTotals, cost_of

__all__ = ["EditCost", "MissReport", "Reply", "SessionStats", "ToolCall", "TurnUsage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnUsage(Usage):
    """A :class:`~promptcache.usage.Usage` that adds up (``a + b``) and prices itself.

    A thin layer over ``Usage`` (same fields, same parsers), kept because sessions and warm-up
    sum usage over many requests; ``TurnUsage()`` is the zero to start a sum from.
    """

    provider: Provider = "anthropic"
    model: str = ""

    @classmethod
    def of(cls, usage: Usage) -> TurnUsage:
        """``usage`` as a TurnUsage (the same object when it already is one)."""
        if isinstance(usage, TurnUsage):
            return usage
        return cls(provider=usage.provider, model=usage.model, input_tokens=usage.input_tokens,
                   cache_read_tokens=usage.cache_read_tokens, cache_writes=usage.cache_writes,
                   output_tokens=usage.output_tokens)

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request, whatever its class (``total_input_tokens``)."""
        return self.total_input_tokens

    def __add__(self, other: Usage) -> TurnUsage:
        writes = dict(self.cache_writes)
        for ttl, n in other.cache_writes.items():
            writes[ttl] = writes.get(ttl, 0) + n
        return TurnUsage(
            provider=self.provider if self.model else other.provider,
            model=self.model or other.model,
            input_tokens=self.input_tokens + other.input_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_writes=writes,
            output_tokens=self.output_tokens + other.output_tokens,
        )

    def cost_usd(self, limits: ModelLimits) -> float | None:
        """What the provider charges for these tokens; ``None`` without a known price."""
        return None if limits.input_price is None else cost_of(self, limits).billed

    def uncached_usd(self, limits: ModelLimits) -> float | None:
        """What the same request would cost with no caching at all: the baseline of savings."""
        return None if limits.input_price is None else cost_of(self, limits).uncached


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStats:
    """Running totals of one session: how much was read from cache, and what it saved.

    Built from the session's :class:`~promptcache.usage.Ledger`; a reply served by the response
    cache (:mod:`promptcache.cache`) never reached the API, so it adds nothing here but a count
    in ``served_from_cache``.
    """

    #: Requests that reached the provider (and were billed).
    requests: int
    usage: TurnUsage
    #: Dollars billed and dollars the same requests would have cost uncached (None: no price).
    cost_usd: float | None
    uncached_usd: float | None
    #: Replies answered by the response cache: no tokens billed, no cache written.
    served_from_cache: int = 0

    @classmethod
    def of(cls, totals: UsageTotals, *, provider: Provider, model: str, priced: bool,
           served_from_cache: int = 0) -> SessionStats:
        usage = TurnUsage(provider=provider, model=model, input_tokens=totals.uncached_input_tokens,
                          cache_read_tokens=totals.cache_read_tokens,
                          cache_writes=totals.cache_writes, output_tokens=totals.output_tokens)
        return cls(requests=totals.calls, usage=usage,
                   cost_usd=totals.billed if priced else None,
                   uncached_usd=totals.uncached if priced else None,
                   served_from_cache=served_from_cache)

    @property
    def hit_rate(self) -> float:
        """Share of input tokens read from cache."""
        return self.usage.hit_rate

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
        served = f" (+{self.served_from_cache} from the response cache)" if self.served_from_cache else ""
        return (f"{self.requests} requests{served}, hit rate {self.hit_rate:.0%}: read "
                f"{u.cache_read_tokens:,}, written {u.cache_write_tokens:,} (1h "
                f"{u.cache_write_1h_tokens:,}), uncached {u.input_tokens:,}, output "
                f"{u.output_tokens:,} tokens{money}")


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

    @property
    def reason(self) -> str:
        """One word for the ledger and spans: the server's reason, else the changed layer."""
        if self.server_reason:
            return self.server_reason
        return f"{self.changed_layer}-changed" if self.changed_layer else "read-below-expected"

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
    """A tool call of the assistant's reply (``tool_use`` block), for the application to run."""

    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One exchange: the assistant's answer, what it cost, and how the cache behaved.

    The reply of :meth:`ChatSession.run` covers the whole tool loop: ``usage`` and ``cost_usd``
    are the sums over ``steps`` (each step's own Reply), so the figures are the run's bill.
    """

    #: The assistant message as appended to the history (content blocks in Anthropic shape,
    #: whatever the provider: text, tool_use, thinking).
    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None
    message_id: str | None
    usage: TurnUsage
    #: How the request was cached: the optimizer's Plan (Anthropic) or the ProviderPlan of the
    #: OpenAI / Gemini renderer.
    plan: Plan | ProviderPlan
    #: Set when the request read less than the previous request had cached.
    miss: MissReport | None = None
    cost_usd: float | None = None
    #: True when the response cache answered: nothing was billed and ``usage`` is all zero.
    from_response_cache: bool = False
    #: The replies of every request of a :meth:`run`, in order (empty for a single request).
    steps: tuple[Reply, ...] = ()
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
