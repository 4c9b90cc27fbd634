"""Read a google-genai ``models.generate_content`` request into a Prompt.

For planning a request written by hand (the drop-in wrapper): ``config.system_instruction``
becomes the system layer, ``config.tools`` function declarations the tools layer, ``contents``
the conversation. ``contents`` may be a string, a ``Content``/``Part`` or a list of them, dicts
or SDK objects, as ``generate_content`` itself accepts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from promptcache.builder import PromptBuilder
from promptcache.errors import PromptError
from promptcache.prompt import Prompt
from promptcache.sdk import plain

__all__ = ["prompt_from_gemini_request", "read_prompt"]


def _system(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping) and "parts" in value:
        value = value["parts"]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise PromptError("config.system_instruction must be text, a Content or parts.",
                          path="config.system_instruction")
    texts = []
    for i, part in enumerate(value):
        text = part if isinstance(part, str) else part.get("text") if isinstance(part, Mapping) else None
        if not isinstance(text, str):
            raise PromptError(f"config.system_instruction[{i}]: only text parts are modelled.",
                              path=f"config.system_instruction[{i}]")
        texts.append(text)
    return texts


def _tools(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise PromptError("config.tools must be a list.", path="config.tools")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(value):
        if not isinstance(tool, Mapping):
            raise PromptError(f"config.tools[{i}]: callables are not modelled; pass declarations.",
                              path=f"config.tools[{i}]")
        declarations = tool.get("function_declarations")
        if declarations is None:
            out.extend({"name": str(k), "type": str(k), "config": v} for k, v in tool.items())
            continue
        for d in declarations:
            schema = d.get("parameters_json_schema") or d.get("parameters") or {"type": "object"}
            entry: dict[str, Any] = {"name": d.get("name")}
            if d.get("description"):
                entry["description"] = d["description"]
            entry["input_schema"] = schema
            out.append(entry)
    return out


def _contents(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"text": value}]}]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not value:
        raise PromptError("contents must be a non-empty string, Content or list.", path="contents")
    out: list[Any] = []
    loose: list[Any] = []
    for item in value:
        if isinstance(item, str):
            loose.append({"text": item})
        elif isinstance(item, Mapping) and "parts" not in item and "role" not in item:
            loose.append(item)  # a bare Part: generate_content groups them into one user turn
        else:
            if loose:
                out.append({"role": "user", "parts": loose})
                loose = []
            out.append(item)
    if loose:
        out.append({"role": "user", "parts": loose})
    return out


def _bytes_as_sent(value: Any) -> Any:
    """``value`` with its ``bytes`` (``inline_data.data`` written as a dict) in base64, as
    google-genai sends them; ``value`` itself when it holds none."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        items = {k: _bytes_as_sent(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, list):
        converted = [_bytes_as_sent(v) for v in value]
        return value if all(a is b for a, b in zip(converted, value, strict=True)) else converted
    return value


def prompt_from_gemini_request(request: Mapping[str, Any]) -> Prompt:
    """A Prompt of ``generate_content(**request)``, for planning."""
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'model' string.", path="model")
    config = plain(request.get("config") or {}, "config")
    if not isinstance(config, Mapping):
        raise PromptError("config must be a dict or GenerateContentConfig.", path="config")
    builder = PromptBuilder(model.removeprefix("models/"))
    if config.get("tools"):
        builder.add_tools(_tools(config["tools"]))
    if config.get("system_instruction"):
        builder.add_system([{"type": "text", "text": t} for t in _system(config["system_instruction"])])
    contents = _bytes_as_sent(request.get("contents"))
    builder.add_messages(_contents(plain(contents, "contents")))
    return builder.build()


def read_prompt(request: Mapping[str, Any], api: str) -> Prompt:
    """A ``generate_content`` request as a Prompt (the registry's ``read_prompt``)."""
    return prompt_from_gemini_request(request)
