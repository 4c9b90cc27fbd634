"""Why a request read less than expected, and what an edit of the history costs in cache.

Both compare prefix fingerprints (``Prompt.fingerprints``, the same that the optimizer, the
simulator and ``diff`` use) of two requests and name the first block that differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptcache.limits import ModelLimits
from promptcache.prompt import Prompt
from promptcache.session._history import first_difference
from promptcache.session._values import EditCost

__all__ = ["Sent", "edit_cost", "explain_miss"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """What the session remembers of its previous request, to explain the next one's misses."""

    prompt: Prompt
    fingerprints: tuple[str, ...]
    message_id: str | None
    sent_at: float
    #: Tokens the provider held in cache once this request ran (read + written).
    cached_tokens: int
    #: The TTL of the entry that holds the conversation (its own breakpoint's, not the longest).
    ttl_seconds: float


def explain_miss(prev: Sent, prompt: Prompt, fingerprints: tuple[str, ...],
                 sent_at: float) -> tuple[str, str | None, str | None]:
    """(explanation, changed path, changed layer) for a request that read less than ``prev`` held."""
    index = first_difference(prev.fingerprints, fingerprints)
    if index is None:
        gap = sent_at - prev.sent_at
        if gap >= prev.ttl_seconds:
            return (f"nothing changed, but {gap:,.0f} s passed since the previous request, more "
                    f"than its {prev.ttl_seconds:,.0f} s TTL: the entry expired.", None, None)
        return ("nothing before the new turn changed and the TTL had not run out: the provider "
                "evicted the entry, or it was not readable yet (a concurrent request).", None, None)
    if index >= len(prompt.blocks):
        block = prev.prompt.blocks[-1]
        where = prompt.blocks[-1].path if prompt.blocks else "the start"
        return (f"the history was cut after {where}: {len(prev.prompt.blocks) - index} cached "
                "blocks are gone.", block.path, block.layer)
    block = prompt.blocks[index]
    old = prev.prompt.blocks[index] if index < len(prev.prompt.blocks) else None
    rewrite = prompt.total_tokens - (prompt.prefix_tokens[index - 1] if index else 0)
    if old is not None and old.payload == block.payload and old.path == block.path:
        what = (f"{block.path} is unchanged, but a setting folded in where the messages start "
                "(tool_choice, thinking, or whether an image is present) changed")
    else:
        what = f"{block.path} (layer {block.layer!r}) changed"
    return (f"{what}; everything from there on, ~{rewrite:,} tokens, was processed again.",
            block.path, block.layer)


def edit_cost(before: Prompt, after: Prompt, limits: ModelLimits) -> EditCost:
    """The tokens from the first changed block to the end, written again instead of read.

    Priced at the provider's shortest TTL's write rate (Anthropic 5m); a provider that bills no
    writes (implicit caching) still loses the read discount on them.
    """
    priced = limits.input_price is not None
    index = first_difference(before.fingerprints, after.fingerprints)
    if index is None or index >= len(after.blocks):
        return EditCost(changed_path=None, changed_layer=None, rewrite_tokens=0,
                        rewrite_usd=0.0 if priced else None, extra_usd=0.0 if priced else None,
                        explanation="only blocks were appended or the end was cut: every "
                                    "cached prefix stays readable.")
    block = after.blocks[index]
    rewrite = after.total_tokens - (after.prefix_tokens[index - 1] if index else 0)
    rewrite_usd = extra_usd = None
    if limits.input_price is not None:
        write = limits.write_multiplier(limits.ttls[0]) if limits.ttls else 1.0
        rewrite_usd = rewrite * write * limits.input_price / 1e6
        extra_usd = rewrite * (write - limits.cache_read_multiplier) * limits.input_price / 1e6
    money = f" (${rewrite_usd:.4f} to write, ${extra_usd:.4f} more than a read)" if (
        rewrite_usd is not None and extra_usd is not None) else ""
    return EditCost(changed_path=block.path, changed_layer=block.layer, rewrite_tokens=rewrite,
                    rewrite_usd=rewrite_usd, extra_usd=extra_usd,
                    explanation=f"first change at {block.path} (layer {block.layer!r}): the next "
                                f"request rewrites ~{rewrite:,} cached tokens{money}.")
