"""Read an OpenAI ``chat.completions.create`` or ``responses.create`` request into a Prompt.

The inverse of the OpenAI renderer, for planning a request written by hand (the drop-in wrapper,
``promptcache plan``): system and developer messages (and ``instructions``) become the system
layer, function tools the tools layer, the rest the conversation. SDK objects are accepted
anywhere a dict is. Tools other than functions (``web_search``, ``file_search``...) are kept as
opaque tool definitions named by their type: they are part of the cached prefix all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptcache.builder import PromptBuilder
from promptcache.errors import PromptError
from promptcache.prompt import Prompt
from promptcache.providers.openai.messages import Api
from promptcache.sdk import plain

__all__ = ["prompt_from_openai_request", "read_prompt"]


def _tools(raw: Any) -> list[dict[str, Any]]:
    tools = plain(raw, "tools")
    if not isinstance(tools, list):
        raise PromptError("tools must be a list.", path="tools")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise PromptError(f"tools[{i}]: a tool must be a dict.", path=f"tools[{i}]")
        if tool.get("type") == "function":
            out.append(dict(tool))
        else:
            out.append({"name": str(tool.get("name") or tool.get("type") or f"tool_{i}"),
                        **{k: v for k, v in tool.items() if k != "name"}})
    return out


def prompt_from_openai_request(request: Mapping[str, Any], *, api: Api = "chat") -> Prompt:
    """A Prompt of ``request`` (keyword arguments of the ``api``'s ``create``), for planning."""
    if not isinstance(request, Mapping):
        raise PromptError("A request must be a dict of create() keyword arguments.",
                          path="request")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'model' string.", path="model")
    builder = PromptBuilder(model)
    if request.get("tools"):
        builder.add_tools(_tools(request["tools"]))
    key = "input" if api == "responses" else "messages"
    if api == "responses" and isinstance(request.get("instructions"), str) \
            and request["instructions"].strip():
        builder.add_system(request["instructions"])
    items = request.get(key)
    if api == "responses" and isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if isinstance(items, str | bytes) or not isinstance(items, Sequence) or not items:
        raise PromptError(f"The request needs a non-empty {key!r} list.", path=key)
    builder.add_messages(items)
    choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice is not None:
        builder.set_params(tool_choice=choice)
    return builder.build()


#: OpenAI's string ``tool_choice`` values in the Anthropic shape a Prompt keeps.
_CHOICES = {"auto": "auto", "required": "any", "none": "none"}


def _tool_choice(value: Any, parallel: Any) -> dict[str, Any] | None:
    """OpenAI's ``tool_choice`` (and ``parallel_tool_calls=False``) in the Anthropic shape.

    A Prompt keeps Anthropic's shape (``{"type": "tool", "name": ...}``); the forced function of
    chat (``{"type": "function", "function": {"name": ...}}``) and of responses (``{"type":
    "function", "name": ...}``) is the same choice. A choice with no Anthropic equivalent
    (``allowed_tools``, a hosted tool) is left out of the plan; it is still sent as written.
    """
    value = plain(value, "tool_choice")
    out: dict[str, Any] | None = None
    if isinstance(value, str) and value in _CHOICES:
        out = {"type": _CHOICES[value]}
    elif isinstance(value, Mapping) and value.get("type") == "function":
        function = value.get("function")
        name = function.get("name") if isinstance(function, Mapping) else value.get("name")
        if not isinstance(name, str) or not name:
            raise PromptError("tool_choice: a function choice needs the function's name "
                              "(chat: function.name; responses: name).", path="tool_choice")
        out = {"type": "tool", "name": name}
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def read_prompt(request: Mapping[str, Any], api: str) -> Prompt:
    """A chat completions or responses request as a Prompt (the registry's ``read_prompt``)."""
    return prompt_from_openai_request(request, api="responses" if api == "responses" else "chat")
