"""The optimizer's output: where the breakpoints go, why, what was rejected, and what it costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from promptcache.blocks import Volatility
from promptcache.limits import ModelLimits

__all__ = ["CostEstimate", "LayerSummary", "Placement", "Plan", "Rejection"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """A ``cache_control`` breakpoint the request will carry."""

    #: Position in ``Prompt.blocks`` and the path in the rendered request.
    index: int
    path: str
    ttl: str
    layer: str
    #: Estimated tokens of the prefix it caches (everything up to and including the block).
    prefix_tokens: int
    #: ``optimizer``: placed by promptcache; ``user``: set by hand and kept; ``automatic``: the
    #: request-level ``cache_control``, which the API applies to the last cacheable block.
    source: Literal["optimizer", "user", "automatic"]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A candidate position that did not get a breakpoint, and why."""

    path: str
    layer: str
    #: ``below-minimum``, ``safety-margin`` (near the minimum, lost its slot), ``not-worth-it``,
    #: ``budget``, ``volatile``, ``no-markable-block``, ``unreachable``, ``pending-write``.
    rule: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSummary:
    """One layer as the optimizer saw it."""

    name: str
    section: str
    volatility: Volatility
    blocks: int
    tokens: int
    #: Estimated tokens from the start of the request to the end of this layer.
    prefix_tokens: int
    #: Expected requests sharing this content, and the chance that the next one comes within 5m / 1h.
    uses: float
    p_within_5m: float
    p_within_1h: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEstimate:
    """Expected input cost, in tokens by class and in dollars (``None`` when no price is known)."""

    input_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    #: Multiples of the base input price, for this request and per request in steady state.
    cost_units: float
    uncached_units: float
    amortised_units: float
    billed_usd: float | None
    uncached_usd: float | None
    amortised_usd: float | None

    @property
    def savings_ratio(self) -> float:
        """Expected steady-state saving relative to sending the same tokens uncached."""
        return 1 - self.amortised_units / self.uncached_units if self.uncached_units else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Breakpoints for one request, each explained, with every rejected candidate and the expected cost."""

    model: str
    limits: ModelLimits
    placements: tuple[Placement, ...]
    rejected: tuple[Rejection, ...]
    layers: tuple[LayerSummary, ...]
    expected: CostEstimate
    #: TTL of the request-level automatic ``cache_control``, when used.
    automatic_ttl: str | None = None
    #: Things the user should know: markers that cannot take effect, assumptions made.
    warnings: tuple[str, ...] = ()
    #: Prefix fingerprints of the request (empty when planned without a CacheState).
    fingerprints: tuple[str, ...] = ()
    #: How the prefix sizes were known: offline estimates, and which (near a minimum, where a
    #: decision turned on it) were counted exactly.
    counting: str = ""

    @property
    def breakpoints(self) -> int:
        """Breakpoints the request uses, the automatic one included."""
        return len(self.placements)

    def explain(self) -> str:
        """A plain-text account of the plan, for logs and the CLI."""
        lines = [f"Plan for {self.model} (minimum cacheable prefix "
                 f"{self.limits.min_cacheable_tokens:,} tokens, "
                 f"{self.breakpoints}/{self.limits.max_breakpoints} breakpoints)"]
        lines.append("Layers:")
        for layer in self.layers:
            lines.append(
                f"  {layer.name:<16} {layer.volatility.value:<8} {layer.blocks:>4} blocks "
                f"{layer.tokens:>8,} tokens (prefix {layer.prefix_tokens:,}); "
                f"~{layer.uses:,.0f} uses, next within 5m {layer.p_within_5m:.0%}, "
                f"within 1h {layer.p_within_1h:.0%}"
            )
        lines.append("Breakpoints:")
        lines.extend(f"  {p.path} ttl={p.ttl} [{p.source}] {p.reason}" for p in self.placements)
        if not self.placements:
            lines.append("  none")
        if self.rejected:
            lines.append("Not placed:")
            lines.extend(f"  {r.path} ({r.rule}): {r.reason}" for r in self.rejected)
        e = self.expected
        usd = (f"; ${e.billed_usd:.6f} vs ${e.uncached_usd:.6f} uncached"
               if e.billed_usd is not None and e.uncached_usd is not None else "")
        lines.append(
            f"This request: read {e.cache_read_tokens:,}, write 5m {e.cache_write_5m_tokens:,}, "
            f"write 1h {e.cache_write_1h_tokens:,}, uncached {e.input_tokens:,} tokens{usd}."
        )
        lines.append(f"Steady state: {e.amortised_units:,.0f} vs {e.uncached_units:,.0f} "
                     f"token-price units per request ({e.savings_ratio:.0%} saved).")
        if self.counting:
            lines.append(f"Counting: {self.counting}.")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)
