"""The drop-in planner for boto3's ``converse`` / ``converse_stream`` (named by ``spec.py``).

The request is read into a Prompt (:func:`~.request.prompt_from_converse`), planned by the
optimizer with the model's Converse row and the wrapper's CacheState, and the plan's checkpoints
are inserted into the caller's own lists (:func:`~.request.mark_request`): every other argument,
and every block, reaches boto3 exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.dropin._core import Prepared, WrapHandle
from promptcache.optimizer import optimize
from promptcache.providers.bedrock_converse.render import converse_limits
from promptcache.providers.bedrock_converse.request import (
    checkpoints,
    mark_request,
    prompt_from_converse,
)

__all__ = ["prepare_converse"]


def prepare_converse(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``converse``/``converse_stream`` call (raises when it cannot be planned)."""
    limits = converse_limits(str(kwargs.get("modelId", "")))
    prompt, slots = prompt_from_converse(kwargs, limits)
    plan = optimize(prompt, state=handle.state, limits=limits)
    out = mark_request(kwargs, slots, checkpoints(plan, limits))
    return Prepared(kwargs=out, provider="bedrock_converse", model=prompt.model, planned=True,
                    limits=limits, prompt=prompt, plan=plan, markers=("cachePoint",))
