"""The Anthropic side of the wrapper: ``messages.create`` / ``messages.stream`` keyword arguments
read into a Prompt, planned with the client's platform limits, and merged back.

Only ``tools``, ``system``, ``messages`` and the request-level ``cache_control`` are replaced
(with the same content and the plan's markers); every other argument reaches the SDK as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.dropin._core import Prepared, WrapHandle, given
from promptcache.errors import RuleViolation
from promptcache.limits import limits_for
from promptcache.optimizer import optimize
from promptcache.providers.anthropic.platforms import plan_summary
from promptcache.providers.anthropic.render import (
    prompt_from_request,
    render_content,
    request_level_ttl,
)

__all__ = ["prepare_messages"]


def prepare_messages(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``messages.create``/``messages.stream`` call (raises when it cannot be planned)."""
    request = given(kwargs)
    prompt = prompt_from_request(request, platform=handle.platform)
    limits = limits_for(prompt.model, provider="anthropic", platform=handle.platform)
    automatic = request_level_ttl(request)
    if automatic is not None and handle.platform == "bedrock":
        raise RuleViolation("Bedrock rejects a request-level cache_control.", path="cache_control",
                            rule="automatic-unsupported")
    plan = optimize(prompt, state=handle.state, limits=limits, automatic=automatic)
    out = dict(kwargs)
    out.update(render_content(prompt, plan))
    out["model"] = kwargs["model"]
    return Prepared(kwargs=out, provider="anthropic", model=prompt.model, planned=True,
                    limits=limits, prompt=prompt, plan=plan,
                    summary=plan_summary(plan, platform=handle.platform, model=prompt.model))
