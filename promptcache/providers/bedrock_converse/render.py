"""Render a Prompt as ``converse(**kwargs)`` with ``cachePoint`` blocks where the plan caches.

The plan is the optimizer's, made with the model's Converse row (``limits_for(model,
provider="bedrock_converse")``): at most 4 checkpoints, none whose prefix is below the model's
minimum (:func:`~.request.checkpoints`), none in ``toolConfig.tools`` on Amazon Nova, and the
``ttl`` field only on models that take the 1-hour TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError
from promptcache.limits import ModelLimits, limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, with_model
from promptcache.providers.bedrock_converse.blocks import cache_point, from_anthropic, tool_from_anthropic
from promptcache.providers.bedrock_converse.request import checkpoints, for_model, prompt_from_converse
from promptcache.providers.common import Preview
from promptcache.state import CacheState

__all__ = ["converse_limits", "plan_converse", "preview_converse", "read_prompt",
           "render_bedrock_converse", "strip_cache_points"]

_INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP",
              "stop_sequences": "stopSequences"}


def converse_limits(model: str) -> ModelLimits:
    """The Converse row of ``model`` (a Bedrock model id or inference profile)."""
    return limits_for(model, provider="bedrock_converse", platform="bedrock")


def plan_converse(prompt: Prompt, *, state: CacheState | None = None, now: float | None = None,
                  limits: ModelLimits | None = None) -> tuple[Prompt, Plan]:
    """The optimizer's plan for ``prompt`` on Converse (and the prompt it planned, with Nova's
    tools made unmarkable)."""
    lim = limits if limits is not None else converse_limits(prompt.model)
    prompt = for_model(prompt, lim)
    return prompt, optimize(prompt, state=state, now=now, limits=lim)


def _tool_choice(choice: Any) -> dict[str, Any]:
    kind = choice.get("type") if isinstance(choice, Mapping) else choice
    if kind == "tool" and isinstance(choice, Mapping):
        return {"tool": {"name": choice.get("name")}}
    if kind in ("auto", "any"):
        return {str(kind): {}}
    raise PromptError(f"tool_choice {choice!r} has no Converse equivalent (auto, any, tool).",
                      path="tool_choice")


def _inference(key: str, value: Any) -> Any:
    """``value`` if it has the type Converse's ``inferenceConfig`` field takes (boto3 refuses any
    other before sending), else a PromptError naming ``key``."""
    if key == "stop_sequences":
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        want = "a list of strings"
    elif key == "max_tokens":
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        want = "a number"
    if not ok:
        raise PromptError(f"{key} must be {want} for Converse's inferenceConfig, got {value!r}.",
                          path=key)
    return list(value) if key == "stop_sequences" else value


def _params(prompt: Prompt, kwargs: dict[str, Any]) -> None:
    inference: dict[str, Any] = {}
    for key, value in prompt.params.items():
        if key in _INFERENCE:
            inference[_INFERENCE[key]] = _inference(key, value)
        elif key == "tool_choice":
            if "toolConfig" not in kwargs:
                raise PromptError("tool_choice needs tools.", path="tool_choice")
            kwargs["toolConfig"]["toolChoice"] = _tool_choice(value)
        elif key == "thinking":
            kwargs.setdefault("additionalModelRequestFields", {})["thinking"] = value
        elif key in ("additionalModelRequestFields", "guardrailConfig", "requestMetadata",
                     "performanceConfig", "serviceTier", "outputConfig", "promptVariables",
                     "additionalModelResponseFieldPaths"):
            kwargs[key] = value  # a Converse parameter given as is
        else:
            raise PromptError(f"{key!r} is not a parameter the Converse API takes; inference "
                              "settings are max_tokens, temperature, top_p, stop_sequences.",
                              path=key)
    if inference:
        kwargs["inferenceConfig"] = inference


def render_bedrock_converse(prompt: Prompt, plan: Plan | None = None, *,
                            state: CacheState | None = None, now: float | None = None,
                            model: str | None = None,
                            limits: ModelLimits | None = None) -> dict[str, Any]:
    """Keyword arguments for ``bedrock_runtime.converse(**kwargs)`` (or ``converse_stream``).

    Plans with the optimizer when no plan is given; with a ``state``, the plan's writes are
    recorded (the request is assumed sent). ``model`` renders for another Bedrock model id.
    A block Converse has no equivalent for is a :class:`PromptError` naming it.
    """
    if model is not None:
        prompt = with_model(prompt, model)
    if not prompt.model:
        raise PromptError("The Prompt has no model: render_bedrock_converse(prompt, model=...).",
                          path="model")
    if not prompt.turns:
        raise PromptError("Converse needs at least one message: builder.add_user_turn(...).",
                          path="messages")
    lim = limits if limits is not None else (plan.limits if plan is not None
                                             else converse_limits(prompt.model))
    if plan is None:
        prompt, plan = plan_converse(prompt, state=state, now=now, limits=lim)
    marks = checkpoints(plan, lim)
    for i, b in enumerate(prompt.blocks):
        if b.user_ttl is not None:
            marks[i] = b.user_ttl if "1h" in lim.cache_write_multipliers else None
    tools: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    head = prompt.turns[0].start
    for i, b in enumerate(prompt.blocks[:head]):
        if b.section == "tools":
            tools.append(tool_from_anthropic(b.payload, f"tools[{len(tools)}]"))
            target = tools
        else:
            system.append(from_anthropic(b.payload, f"system[{len(system)}]"))
            target = system
        if i in marks:
            target.append(cache_point(marks[i]))
    for t, turn in enumerate(prompt.turns):
        content: list[dict[str, Any]] = []
        for i in range(turn.start, turn.stop):
            content.append(from_anthropic(prompt.blocks[i].payload,
                                          f"messages[{t}].content[{len(content)}]"))
            if i in marks:
                content.append(cache_point(marks[i]))
        messages.append({"role": turn.role, "content": content})
    kwargs: dict[str, Any] = {"modelId": prompt.model, "messages": messages}
    if system:
        kwargs["system"] = system
    if tools:
        kwargs["toolConfig"] = {"tools": tools}
    _params(prompt, kwargs)
    if state is not None:
        record_sent(state, prompt, plan, now=now, response_started=False)
    return kwargs


def read_prompt(request: Mapping[str, Any], api: str) -> Prompt:
    """A ``converse`` request as a Prompt (the registry's ``read_prompt``)."""
    model = request.get("modelId")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'modelId' string.", path="modelId")
    return prompt_from_converse(request, converse_limits(model))[0]


def preview_converse(prompt: Prompt, *, model: str | None = None, api: str | None = None,
                     automatic: str | None = None) -> Preview:
    """The optimizer's plan for ``prompt`` on Converse and the ``converse`` kwargs it renders:
    what ``promptcache plan`` prints. Converse has no request-level (automatic) cache."""
    if automatic is not None:
        raise PromptError("--automatic: Converse has no request-level cache; checkpoints are "
                          "placed after blocks.", path="cache_control")
    if model is not None:
        prompt = with_model(prompt, model)
    prompt, plan = plan_converse(prompt)
    return Preview(plan=plan, request=render_bedrock_converse(prompt, plan))


def strip_cache_points(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a ``converse`` request without its ``cachePoint`` blocks (in ``system``,
    message content and ``toolConfig.tools``): the request as planned from scratch."""

    def clean(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return [x for x in items if not (isinstance(x, Mapping) and "cachePoint" in x)]

    out = dict(request)
    if "system" in out:
        out["system"] = clean(out["system"])
    config = out.get("toolConfig")
    if isinstance(config, Mapping) and "tools" in config:
        out["toolConfig"] = {**config, "tools": clean(config["tools"])}
    if isinstance(out.get("messages"), list):
        out["messages"] = [{**m, "content": clean(m.get("content"))}
                           if isinstance(m, Mapping) and "content" in m else m
                           for m in out["messages"]]
    return out
