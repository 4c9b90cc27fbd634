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


def _prepare(kwargs: Mapping[str, Any], handle: WrapHandle, api: Api) -> Prepared:
    request = given(kwargs)
    prompt = prompt_from_openai_request(request, api=api)
    model = prompt.model
    limits = limits_for(model, provider="openai")
    render = render_openai_responses if api == "responses" else render_openai_chat
    rendered: Rendered = render(
        prompt, model=model, prompt_cache_key=request.get("prompt_cache_key"),
        retention=request.get("prompt_cache_retention", handle.options.get("retention")),
        explicit=None if "prompt_cache_options" not in request else False, limits=limits)
    out = dict(kwargs)
    key = "input" if api == "responses" else "messages"
    marked = rendered.plan.breakpoints and "prompt_cache_options" not in request
    if marked and api == "chat" and _normal(_unmarked(rendered.kwargs[key])) == _normal(
            plain(request[key], key)):
        out[key] = rendered.kwargs[key]
    for name in _SETTINGS:
        if name in rendered.kwargs and name not in request:
            if name == "prompt_cache_options" and out[key] is not rendered.kwargs[key]:
                continue  # no breakpoints sent: leave the options (and the mode) to the API
            out[name] = rendered.kwargs[name]
    return Prepared(kwargs=out, provider="openai", model=model, planned=True, limits=limits,
                    summary=rendered.plan)


def prepare_chat(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``chat.completions.create`` call."""
    return _prepare(kwargs, handle, "chat")


def prepare_responses(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``responses.create`` call."""
    return _prepare(kwargs, handle, "responses")
