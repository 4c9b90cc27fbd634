"""The OpenAI side of the wrapper: ``chat.completions.create`` and ``responses.create``.

OpenAI caches prefixes automatically; what a request controls is routing
(``prompt_cache_key``), retention (``prompt_cache_retention``) and, on GPT-5.6+, explicit
``prompt_cache_breakpoint`` markers. The wrapper plans them with the OpenAI renderer and adds
them to the caller's own arguments; settings the caller gave win. Messages are replaced only to
carry breakpoints, and only when the renderer gives back exactly the caller's content (markers
aside): otherwise the request keeps its content and automatic caching.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.dropin._core import Prepared, WrapHandle, given
from promptcache.limits import limits_for
from promptcache.providers.common import Rendered
from promptcache.providers.openai.messages import Api
from promptcache.providers.openai.render import render_openai_chat, render_openai_responses
from promptcache.providers.openai.request import prompt_from_openai_request
from promptcache.sdk import plain

__all__ = ["prepare_chat", "prepare_responses"]

_SETTINGS = ("prompt_cache_key", "prompt_cache_retention", "prompt_cache_options")
#: The roles that carry instructions (the API reads them alike on GPT-5.6+).
_INSTRUCTIONS = ("system", "developer")


def _unmarked(value: Any) -> Any:
    """``value`` without ``prompt_cache_breakpoint`` keys (rendered items are shallow)."""
    if isinstance(value, Mapping):
        return {k: _unmarked(v) for k, v in value.items() if k != "prompt_cache_breakpoint"}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def _normal(items: Any) -> Any:
    """Chat messages with string content written as one text part (the same request to the API),
    so the caller's messages and the renderer's compare equal when only that differs."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("content"), str) \
                and item.get("role") in ("system", "developer", "user", "tool"):
            item = {**item, "content": [{"type": "text", "text": item["content"]}]}
        out.append(item)
    return out


def _carried(rendered: Any, written: Any) -> list[Any] | None:
    """The rendered messages (with their breakpoints) in the caller's own roles, when they are the
    caller's content markers aside; else None.

    The renderer writes ``developer`` for instructions on GPT-5.6+ where the caller may have
    written ``system``: the same instructions, so the caller's role is kept (the request is the
    one they wrote) and the breakpoints go with it.
    """
    ours, theirs = _normal(_unmarked(rendered)), _normal(written)
    if not isinstance(ours, list) or not isinstance(theirs, list) or len(ours) != len(theirs):
        return None
    out = []
    for item, mine, their in zip(rendered, ours, theirs, strict=True):
        if mine != their:
            role = their.get("role") if isinstance(their, Mapping) else None
            if role not in _INSTRUCTIONS or mine.get("role") not in _INSTRUCTIONS \
                    or {**mine, "role": role} != their:
                return None
            item = {**item, "role": role}
        out.append(item)
    return out


def _prepare(kwargs: Mapping[str, Any], handle: WrapHandle, api: Api) -> Prepared:
    request = given(kwargs)
    prompt = prompt_from_openai_request(request, api=api)
    model = prompt.model
    limits = limits_for(model, provider="openai")
    render = render_openai_responses if api == "responses" else render_openai_chat

    def rendering(explicit: bool | None) -> Rendered:
        return render(
            prompt, model=model, prompt_cache_key=request.get("prompt_cache_key"),
            retention=request.get("prompt_cache_retention", handle.options.get("retention")),
            explicit=explicit, limits=limits, on_dropped="off")  # sent as the caller wrote it

    rendered = rendering(None if "prompt_cache_options" not in request else False)
    out = dict(kwargs)
    key = "input" if api == "responses" else "messages"
    carried = None
    if rendered.plan.breakpoints and "prompt_cache_options" not in request and api == "chat":
        carried = _carried(rendered.kwargs[key], plain(request[key], key))
    if carried is not None:
        out[key] = carried
    elif rendered.plan.base is not None:
        # The breakpoints cannot ride on the caller's content (responses input, or content the
        # renderer writes differently): plan automatic caching instead, so the settings sent
        # and ``last.summary`` describe the request that goes out.
        rendered = rendering(False)
    for name in _SETTINGS:
        if name in rendered.kwargs and name not in request:
            out[name] = rendered.kwargs[name]
    return Prepared(kwargs=out, provider="openai", model=model, planned=True, limits=limits,
                    summary=rendered.plan, markers=(*_SETTINGS, "prompt_cache_breakpoint"))


def prepare_chat(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``chat.completions.create`` call."""
    return _prepare(kwargs, handle, "chat")


def prepare_responses(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``responses.create`` call."""
    return _prepare(kwargs, handle, "responses")
