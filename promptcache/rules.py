"""The Anthropic caching rules as checks over a Prompt's breakpoints.

One place for every rule, used by :func:`promptcache.validate` on any request and by the optimizer
on the markers a user set by hand. Violations the API answers with HTTP 400 raise
:class:`RuleViolation`; markers the API accepts but that cannot take effect come back as warning
messages (the caller emits them as :class:`CacheWarning`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.errors import RuleViolation, TooManyBreakpointsError
from promptcache.limits import TTL_SECONDS, ModelLimits
from promptcache.prompt import Prompt

__all__ = ["Marker", "check_markers"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    """A breakpoint in a request: a block position and its TTL (``automatic`` for the request-level one)."""

    index: int
    ttl: str
    automatic: bool = False


def check_markers(prompt: Prompt, markers: Sequence[Marker], limits: ModelLimits,
                  *, margin: float = 0.0) -> list[tuple[str, str, str]]:
    """Raise on what the API rejects; return ``(path, rule, message)`` for markers without effect.

    ``markers`` must be sorted by position. A marker is reported ``below-minimum`` when its
    prefix cannot reach the model's minimum even as the provider's tokenizer may count it (the
    row's token ratio band, :meth:`ModelLimits.clear_probability`); ``margin`` > 0 also reports
    those that may fall short of it (within ``margin`` around the expected count).
    """
    blocks = prompt.blocks
    if len(markers) > limits.max_breakpoints:
        paths = ", ".join("cache_control (request level)" if m.automatic else blocks[m.index].path
                          for m in markers)
        raise TooManyBreakpointsError(
            f"The request has {len(markers)} cache breakpoints ({paths}); {limits.model} accepts "
            f"at most {limits.max_breakpoints}, the request-level automatic cache_control "
            "included. Remove markers, or let promptcache place them.",
            path=blocks[markers[limits.max_breakpoints].index].path, rule="max-breakpoints",
        )
    if not limits.automatic_caching and any(m.automatic for m in markers):
        raise RuleViolation(
            f"Request-level cache_control is not supported on {limits.platform} for "
            f"{limits.model}; mark blocks explicitly instead.",
            path="cache_control", rule="automatic-unsupported",
        )
    seen_short: Marker | None = None
    for m in markers:
        block = blocks[m.index]
        if not block.markable:
            raise RuleViolation(f"{block.path}: {block.unmarkable}; the API rejects the request.",
                                path=block.path, rule="uncacheable-block")
        if limits.ttls and m.ttl not in limits.ttls:
            path = "cache_control (request level)" if m.automatic else block.path
            raise RuleViolation(
                f"{path}: a {m.ttl} cache TTL is not available for {limits.model} on "
                f"{limits.platform} (it accepts {', '.join(limits.ttls)}); the API rejects the "
                "request.", path=path, rule="ttl-unsupported",
            )
        if seen_short is not None and TTL_SECONDS[m.ttl] > TTL_SECONDS[seen_short.ttl]:
            raise RuleViolation(
                f"{block.path}: a {m.ttl} breakpoint after the {seen_short.ttl} breakpoint at "
                f"{blocks[seen_short.index].path}. Longer TTLs must come before shorter ones "
                "(every 1h breakpoint before every 5m one); the API rejects the request.",
                path=block.path, rule="ttl-order",
            )
        if seen_short is None or TTL_SECONDS[m.ttl] < TTL_SECONDS[seen_short.ttl]:
            seen_short = m
    auto = [m for m in markers if m.automatic]
    for a in auto:
        explicit = [m for m in markers if m.index == a.index and not m.automatic]
        if explicit and explicit[0].ttl != a.ttl:
            raise RuleViolation(
                f"{blocks[a.index].path}: the request-level cache_control ({a.ttl}) lands on a "
                f"block already marked with ttl {explicit[0].ttl}; the API rejects different TTLs "
                "on the same block.", path=blocks[a.index].path, rule="automatic-ttl-conflict",
            )
    findings: list[tuple[str, str, str]] = []
    minimum = limits.min_cacheable_tokens
    for m in markers:
        tokens = prompt.prefix_tokens[m.index]
        p = limits.clear_probability(tokens, margin)
        if p <= 0.0 or (margin > 0 and p < 1.0):
            path = "cache_control (request level)" if m.automatic else blocks[m.index].path
            verdict = ("the API will not cache it (no error, both cache counters 0)" if p <= 0
                       else f"it reaches it only with p~{p:.0%} as {limits.model} counts")
            findings.append((path, "below-minimum",
                             f"{path}: the prefix up to this breakpoint is about {tokens:,} tokens, "
                             f"{'below' if p <= 0 else 'close to'} {limits.model}'s minimum of "
                             f"{minimum:,}; {verdict}. Move the marker later or drop it."))
    return findings


def request_level_ttl(params: Mapping[str, Any]) -> str | None:
    """The TTL of a request-level (automatic) ``cache_control`` in ``params``; None without one.

    Raises :class:`RuleViolation` for a shape the API rejects (not ``{"type": "ephemeral"}``,
    or a TTL other than ``5m``/``1h``).
    """
    cc = params.get("cache_control")
    if cc is None:
        return None
    if not isinstance(cc, Mapping) or cc.get("type") != "ephemeral":
        raise RuleViolation(f"cache_control (request level) must be {{'type': 'ephemeral'}}, "
                            f"got {cc!r}.", path="cache_control", rule="cache-control-shape")
    ttl = cc.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise RuleViolation(f"cache_control (request level): ttl must be '5m' or '1h', got "
                            f"{ttl!r}.", path="cache_control", rule="cache-control-shape")
    return str(ttl)
