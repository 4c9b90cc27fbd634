"""OpenAI- and Gemini-shaped messages read into the Anthropic shape a Prompt keeps.

A Prompt holds Anthropic-shaped blocks (the richest of the three shapes; the OpenAI and Gemini
renderers translate from it). Code written for another SDK hands promptcache its own shapes:
chat messages with ``system``/``developer``/``tool`` roles and ``tool_calls``, responses input
items (``function_call``, ``function_call_output``, ``input_text``...), Gemini contents with
``parts``. :func:`message_parts` maps each to a role and Anthropic content blocks. Anything it
does not model raises :class:`~promptcache.errors.PromptError` naming the path: never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from promptcache.errors import PromptError

__all__ = ["Role", "content_part", "message_parts"]

Role = Literal["system", "user", "assistant"]

_SYSTEM_ROLES = frozenset({"system", "developer"})
_TEXT_PARTS = frozenset({"input_text", "output_text"})


def _source(url: str) -> dict[str, Any]:
    """An Anthropic image/document source for a URL or a ``data:`` URL."""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return {"type": "base64", "media_type": head, "data": data}
    return {"type": "url", "url": url}


def content_part(part: Mapping[str, Any], origin: str) -> Mapping[str, Any]:
    """One OpenAI content part as an Anthropic block; Anthropic blocks are returned as they are."""
    kind = part.get("type")
    if not isinstance(kind, str):
        return part  # not a type anyone models: content_block says so, with the path
    if kind in _TEXT_PARTS or (kind == "refusal" and isinstance(part.get("refusal"), str)):
        return {"type": "text", "text": part.get("text", part.get("refusal"))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str):
            raise PromptError(f"{origin}: an image_url part needs image_url.url.", path=origin)
        return {"type": "image", "source": _source(url)}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str):
            raise PromptError(f"{origin}: an input_image part needs an image_url string "
                              "(file_id images are not modelled).", path=origin)
        return {"type": "image", "source": _source(url)}
    if kind in ("file", "input_file"):
        file = part.get("file") if kind == "file" else part
        data = file.get("file_data") if isinstance(file, Mapping) else None
        if not isinstance(data, str):
            raise PromptError(f"{origin}: a {kind} part needs file_data (file_id files are not "
                              "modelled).", path=origin)
        source = _source(data if data.startswith("data:") else f"data:application/pdf;base64,{data}")
        return {"type": "document", "source": source}
    return part


def _content(content: Any, origin: str) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
        return [content_part(p, f"{origin}.content[{i}]")
                if type(p) is dict or isinstance(p, Mapping) else p
                for i, p in enumerate(content)]
    raise PromptError(f"{origin}.content: must be a non-empty string or list of blocks, got "
                      f"{type(content).__name__}.", path=f"{origin}.content")


def _arguments(raw: Any, origin: str) -> dict[str, Any]:
    """Function-call arguments (a JSON object, as a string or already decoded) as a dict."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise PromptError(f"{origin}: function arguments must be a JSON object, got "
                          f"{str(raw)[:80]!r}.", path=origin)
    return value


def _tool_result(call_id: Any, output: Any, origin: str) -> dict[str, Any]:
    if not isinstance(call_id, str) or not call_id:
        raise PromptError(f"{origin}: a tool output needs the id of the call it answers "
                          "(tool_call_id / call_id).", path=origin)
    if isinstance(output, str):
        return {"type": "tool_result", "tool_use_id": call_id, "content": output}
    return {"type": "tool_result", "tool_use_id": call_id, "content": _content(output, origin)}


def _chat(message: Mapping[str, Any], role: str, origin: str) -> tuple[Role, list[Any]]:
    if role == "tool":
        return "user", [_tool_result(message.get("tool_call_id"), message.get("content"), origin)]
    content = message.get("content")
    blocks = [] if content is None and role == "assistant" else _content(content, origin)
    for i, call in enumerate(message.get("tool_calls") or ()):
        where = f"{origin}.tool_calls[{i}]"
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise PromptError(f"{where}: a tool call needs function.name.", path=where)
        blocks.append({"type": "tool_use", "id": str(call.get("id") or f"call_{i}"),
                       "name": fn["name"], "input": _arguments(fn.get("arguments"), where)})
    return ("system" if role in _SYSTEM_ROLES else role), blocks  # type: ignore[return-value]


def _response_item(item: Mapping[str, Any], kind: str, origin: str) -> tuple[Role, list[Any]]:
    if kind == "function_call":
        name = item.get("name")
        if not isinstance(name, str):
            raise PromptError(f"{origin}: a function_call item needs a name.", path=origin)
        return "assistant", [{"type": "tool_use", "id": str(item.get("call_id") or item.get("id")),
                              "name": name, "input": _arguments(item.get("arguments"), origin)}]
    if kind == "function_call_output":
        return "user", [_tool_result(item.get("call_id"), item.get("output"), origin)]
    raise PromptError(f"{origin}: responses input items of type {kind!r} are not modelled "
                      "(message, function_call and function_call_output are).", path=origin)


def _gemini(message: Mapping[str, Any], origin: str) -> tuple[Role, list[Any]]:
    role = message.get("role") or "user"
    if role not in ("user", "model"):
        raise PromptError(f"{origin}: a Gemini content's role must be 'user' or 'model', got "
                          f"{role!r}.", path=origin)
    parts = message.get("parts")
    if not isinstance(parts, Sequence) or isinstance(parts, str):
        raise PromptError(f"{origin}: parts must be a list.", path=f"{origin}.parts")
    blocks: list[Any] = []
    for i, part in enumerate(parts):
        where = f"{origin}.parts[{i}]"
        if not isinstance(part, Mapping):
            raise PromptError(f"{where}: a part must be a dict.", path=where)
        if part.get("thought"):
            raise PromptError(f"{where}: thought parts are not modelled.", path=where)
        if isinstance(part.get("text"), str):
            blocks.append({"type": "text", "text": part["text"]})
        elif isinstance(call := part.get("function_call"), Mapping):
            blocks.append({"type": "tool_use", "id": str(call.get("id") or f"{call.get('name')}_{i}"),
                           "name": call.get("name"), "input": _arguments(call.get("args"), where)})
        elif isinstance(reply := part.get("function_response"), Mapping):
            blocks.append({"type": "tool_result",
                           "tool_use_id": str(reply.get("id") or f"{reply.get('name')}_{i}"),
                           "content": json.dumps(reply.get("response"), sort_keys=True)})
        elif isinstance(data := part.get("inline_data"), Mapping):
            mime = str(data.get("mime_type", ""))
            blocks.append({"type": "image" if mime.startswith("image/") else "document",
                           "source": {"type": "base64", "media_type": mime,
                                      "data": data.get("data")}})
        elif isinstance(ref := part.get("file_data"), Mapping):
            blocks.append({"type": "image" if str(ref.get("mime_type", "")).startswith("image/")
                           else "document", "source": {"type": "url", "url": ref.get("file_uri")}})
        else:
            raise PromptError(f"{where}: a part with {sorted(part)} is not modelled (text, "
                              "function_call, function_response, inline_data, file_data are).",
                              path=where)
    return ("assistant" if role == "model" else "user"), blocks


def message_parts(message: Mapping[str, Any], origin: str) -> tuple[Role, list[Any]]:
    """The role and Anthropic content blocks of one message in any of the three SDKs' shapes.

    ``system`` is returned for OpenAI ``system``/``developer`` messages: they belong in the
    system layer, which only :class:`~promptcache.builder.PromptBuilder` can place them in.
    """
    if "parts" in message:
        return _gemini(message, origin)
    kind = message.get("type")
    if isinstance(kind, str) and kind != "message":
        return _response_item(message, kind, origin)
    role = message.get("role")
    if not isinstance(role, str):
        role = repr(role)
    if role == "user" and "tool_calls" not in message:
        return "user", _content(message.get("content"), origin)
    if role == "assistant" and "tool_calls" not in message:
        return "assistant", _content(message.get("content"), origin)
    if role in ("assistant", "tool") or role in _SYSTEM_ROLES:
        return _chat(message, str(role), origin)
    raise PromptError(f"{origin}.role: must be 'user' or 'assistant' (or an OpenAI 'system', "
                      f"'developer' or 'tool' message), got {role!r}.", path=f"{origin}.role")
