"""A Converse request (``converse(**kwargs)``) read into a Prompt, and the plan's checkpoints
set back on the caller's own lists.

The Prompt is built from the request's Anthropic-shaped twin (:mod:`.blocks`), so the optimizer,
the CacheState and every feature read it as they read any Claude request. Each Prompt block
remembers where it came from (:class:`Slot`), which is how :func:`mark_request` inserts a
``cachePoint`` right after the caller's block and leaves everything else as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.errors import PromptError
from promptcache.limits import ModelLimits
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import prompt_from_request
from promptcache.providers.bedrock_converse.blocks import (
    cache_point,
    marker_of,
    to_anthropic,
    tool_to_anthropic,
)
from promptcache.providers.common import with_marking

__all__ = ["NOVA_TOOLS", "Slot", "checkpoints", "mark_request", "prompt_from_converse",
           "tool_choice_to_anthropic"]

#: Why a tool cannot carry a checkpoint on Amazon Nova (the Bedrock prompt-caching page).
NOVA_TOOLS = ("Amazon Nova does not accept a cachePoint in toolConfig.tools; a checkpoint in "
              "system or messages caches the tool configuration with it")


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one Prompt block is in the Converse request: ``tools``, ``system`` or a message
    (``message`` its index), ``item`` its index in that list."""

    where: str
    message: int | None
    item: int


def tool_choice_to_anthropic(choice: Any) -> Any:
    """``toolConfig.toolChoice`` (``{"auto": {}}``, ``{"any": {}}``, ``{"tool": {"name"}}``) in
    the Anthropic vocabulary, so a change of it invalidates what it does on Claude."""
    if not isinstance(choice, Mapping) or len(choice) != 1:
        return choice
    (kind, value), = choice.items()
    if kind == "tool" and isinstance(value, Mapping):
        return {"type": "tool", "name": value.get("name")}
    return {"type": str(kind)}


def _items(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise PromptError(f"{path} must be a list, got {type(value).__name__}.", path=path)


def _read_list(items: Sequence[Any], path: str, where: str, message: int | None,
               read: Any) -> tuple[list[dict[str, Any]], list[Slot]]:
    """Blocks in the Anthropic shape, each ``cachePoint`` folded onto the block before it."""
    out: list[dict[str, Any]] = []
    slots: list[Slot] = []
    for i, item in enumerate(items):
        at = f"{path}[{i}]"
        ttl = marker_of(item, at) if isinstance(item, Mapping) else None
        if ttl is not None:
            if not out:
                raise PromptError(f"{at}: a cachePoint needs a block before it in the same "
                                  "list.", path=at)
            out[-1] = {**out[-1], "cache_control": {"type": "ephemeral", "ttl": ttl}}
            continue
        out.append(read(item, at))
        slots.append(Slot(where, message, i))
    return out, slots


def prompt_from_converse(kwargs: Mapping[str, Any], limits: ModelLimits
                         ) -> tuple[Prompt, tuple[Slot, ...]]:
    """The Prompt of a Converse request, and where each of its blocks is in the request.

    Raises :class:`PromptError` (naming the path) for anything it cannot read; the drop-in
    wrapper then sends the request as written.
    """
    model = kwargs.get("modelId")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'modelId' string.", path="modelId")
    config = kwargs.get("toolConfig")
    if config is not None and not isinstance(config, Mapping):
        raise PromptError("toolConfig must be an object.", path="toolConfig")
    tools, tool_slots = _read_list(_items((config or {}).get("tools"), "toolConfig.tools"),
                                   "toolConfig.tools", "tools", None, tool_to_anthropic)
    system, system_slots = _read_list(_items(kwargs.get("system"), "system"), "system",
                                      "system", None, to_anthropic)
    messages: list[dict[str, Any]] = []
    slots = [*tool_slots, *system_slots]
    for m, message in enumerate(_items(kwargs.get("messages"), "messages")):
        if not isinstance(message, Mapping):
            raise PromptError(f"messages[{m}] must be an object with role and content.",
                              path=f"messages[{m}]")
        content, found = _read_list(_items(message.get("content"), f"messages[{m}].content"),
                                    f"messages[{m}].content", "messages", m, to_anthropic)
        if not content:
            raise PromptError(f"messages[{m}].content needs at least one block besides "
                              "cachePoints.", path=f"messages[{m}].content")
        messages.append({"role": message.get("role"), "content": content})
        slots += found
    request: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        request["tools"] = tools
    if system:
        request["system"] = system
    if config and config.get("toolChoice") is not None:
        request["tool_choice"] = tool_choice_to_anthropic(config["toolChoice"])
    extra = kwargs.get("additionalModelRequestFields")
    if isinstance(extra, Mapping) and isinstance(extra.get("thinking"), Mapping):
        request["thinking"] = dict(extra["thinking"])
    prompt = prompt_from_request(request, platform="bedrock")
    if len(prompt.blocks) != len(slots):  # the builder split or merged something: do not guess
        raise PromptError("promptcache could not map this request's blocks one to one.",
                          path="messages")
    return for_model(prompt, limits), tuple(slots)


def for_model(prompt: Prompt, limits: ModelLimits) -> Prompt:
    """``prompt`` with the blocks the model cannot mark made unmarkable (Nova: its tools)."""
    if not limits.model.startswith("nova"):
        return prompt
    blocks = tuple(with_marking(b, unmarkable=NOVA_TOOLS) if b.section == "tools" else b
                   for b in prompt.blocks)
    return Prompt(model=prompt.model, blocks=blocks, layers=prompt.layers, turns=prompt.turns,
                  params=prompt.params, platform="bedrock")


def checkpoints(plan: Plan, limits: ModelLimits) -> dict[int, str | None]:
    """Block index -> the ``ttl`` to write in its ``cachePoint`` (``None``: leave it out).

    The optimizer's placements whose prefix reaches the model's minimum, at most the row's
    ``max_breakpoints`` with the user's own: a checkpoint below the minimum caches nothing, so
    none is sent. ``ttl`` is written only where the model accepts the 1-hour TTL (elsewhere the
    field is left out, and 5 minutes is the default).
    """
    explicit_ttl = "1h" in limits.cache_write_multipliers
    return {p.index: (p.ttl if explicit_ttl else None) for p in plan.placements
            if p.source == "optimizer" and p.prefix_tokens >= limits.estimated_minimum}


def mark_request(kwargs: Mapping[str, Any], slots: Sequence[Slot],
                 marks: Mapping[int, str | None]) -> dict[str, Any]:
    """The caller's request with a ``cachePoint`` after each marked block; only the lists that
    change (and the objects holding them) are copied."""
    out = dict(kwargs)
    by_list: dict[tuple[str, int | None], list[tuple[int, str | None]]] = {}
    for index, ttl in marks.items():
        slot = slots[index]
        by_list.setdefault((slot.where, slot.message), []).append((slot.item, ttl))
    for (where, message), points in by_list.items():
        if where == "tools":
            config = out["toolConfig"] = dict(out["toolConfig"])
            items = config["tools"] = list(config["tools"])
        elif where == "system":
            items = out["system"] = list(out["system"])
        else:
            assert message is not None
            if out["messages"] is kwargs["messages"]:
                out["messages"] = list(kwargs["messages"])
            entry = out["messages"][message] = dict(out["messages"][message])
            items = entry["content"] = list(entry["content"])
        for item, ttl in sorted(points, reverse=True):  # from the end: indices stay valid
            items.insert(item + 1, cache_point(ttl))
    return out
