"""The Anthropic Messages request for Amazon Bedrock and Google Vertex AI, from the same Prompt.

The ``anthropic`` SDK's ``AnthropicBedrock`` and ``AnthropicVertex`` clients take the same
``messages.create`` keyword arguments and move the model into the URL themselves; what differs is
caching: Bedrock rejects the request-level automatic ``cache_control`` (so every breakpoint is
placed explicitly), model ids carry platform decorations (``us.anthropic.…-v1:0``, ``…@date``),
and some minimums differ per platform. This module plans with the platform's limits and renders
with the Anthropic adapter, so "caching works on the API but not on Bedrock" cannot happen.
"""

from __future__ import annotations

from typing import Literal

from promptcache.limits import ModelLimits, limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import render_anthropic
from promptcache.providers.common import ProviderPlan, Rendered
from promptcache.state import CacheState

__all__ = ["PlatformName", "plan_summary", "render_anthropic_platform"]

PlatformName = Literal["api", "bedrock", "vertex"]


def plan_summary(plan: Plan, *, platform: PlatformName, model: str) -> ProviderPlan:
    """The optimizer's Plan as a :class:`ProviderPlan`, to compare with the other providers."""
    e = plan.expected
    cached = max((p.prefix_tokens for p in plan.placements
                  if p.prefix_tokens >= plan.limits.estimated_minimum), default=0)
    notes = [f"{p.path}: {p.reason}" for p in plan.placements]
    notes += [f"{r.path} not marked ({r.rule}): {r.reason}" for r in plan.rejected]
    notes += list(plan.warnings)
    if platform == "bedrock":
        notes.append("Bedrock: no request-level automatic caching; every breakpoint is explicit")
    return ProviderPlan(
        provider="anthropic", api=f"messages ({platform})", model=model,
        mode="explicit" if plan.placements else "none", cached_prefix_tokens=cached,
        total_tokens=int(e.uncached_units), breakpoints=tuple((p.path, p.ttl) for p in plan.placements),
        settings={"platform": platform, "min_cacheable_tokens": str(plan.limits.min_cacheable_tokens)},
        notes=tuple(notes), expected_units=e.amortised_units, uncached_units=e.uncached_units,
        expected_usd=e.amortised_usd, uncached_usd=e.uncached_usd, base=plan,
    )


def render_anthropic_platform(prompt: Prompt, *, platform: PlatformName, model: str | None = None,
                    automatic: str | None = None, state: CacheState | None = None,
                    limits: ModelLimits | None = None) -> Rendered:
    """``messages.create`` kwargs for ``platform``'s client, planned with its limits.

    ``model`` is the platform's model id (default: the Prompt's). ``automatic`` asks for the
    request-level ``cache_control``; on Bedrock that raises
    :class:`~promptcache.errors.RuleViolation` (``automatic-unsupported``) rather than a 400.
    """
    model_id = model or prompt.model
    target = Prompt(model=model_id, blocks=prompt.blocks, layers=prompt.layers, turns=prompt.turns,
                    params=prompt.params, platform=platform)
    lim = limits if limits is not None else limits_for(model_id, provider="anthropic",
                                                        platform=platform)
    plan = optimize(target, state=state, limits=lim, automatic=automatic)
    kwargs = render_anthropic(target, plan)
    return Rendered(kwargs=kwargs, plan=plan_summary(plan, platform=platform, model=model_id))
