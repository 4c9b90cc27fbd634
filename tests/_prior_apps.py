"""Two apps of one fleet for the first-write prior tests (``tests/planner/test_prior.py`` and
``test_fleet_prior.py``): a tool catalogue the state learns from, and a handbook of about the
same size that is new to it; plain helpers, no fixtures."""

from __future__ import annotations

from promptcache import PromptBuilder
from promptcache.plan import Plan
from promptcache.prompt import Prompt

from .helpers import text_of, tool

MODEL = "claude-sonnet-4-5"


def catalogue(n: int) -> Prompt:
    """App A: a large static tool catalogue (30k tokens), queried every 20 minutes."""
    tools = [tool(f"tool_{i}", size=1_500) for i in range(20)]
    return (PromptBuilder(MODEL).add_tools(tools).add_user_turn(f"catalogue question {n}")
            .set_params(max_tokens=64).build())


def handbook(n: int) -> Prompt:
    """App B, new to the state (or the fleet): a large static handbook of about the same size."""
    return (PromptBuilder(MODEL).add_system(text_of(30_000, seed=7))
            .add_user_turn(f"handbook question {n}").set_params(max_tokens=64).build())


def ttl_of(plan: Plan, layer: str) -> str | None:
    """The TTL ``plan`` writes ``layer`` with (None: not marked)."""
    return next((p.ttl for p in plan.placements if p.layer == layer), None)
