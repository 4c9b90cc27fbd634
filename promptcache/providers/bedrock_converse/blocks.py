"""Converse content blocks and the Anthropic shape a Prompt keeps, both ways.

A Prompt holds Anthropic content blocks (one shape for every provider, see ``shapes.py``), so a
Converse request is read into that shape and rendered back from it. The two map one to one where
Claude itself sees the same thing: ``text``, ``toolUse``/``tool_use``, ``toolResult``/
``tool_result``, ``reasoningContent``/``thinking``, base64 ``image``. Every other Converse block
(``document``, ``video``, ``guardContent``, ``searchResult``...) travels as an *opaque* text block
holding its JSON behind :data:`OPAQUE`: its digest is stable, so it caches like any block, and it
renders back byte for byte. A ``cachePoint`` is no block of its own: it is the marker of the
block before it (Anthropic's ``cache_control``), and it comes back after that block.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError

__all__ = ["OPAQUE", "cache_point", "from_anthropic", "marker_of", "to_anthropic",
           "tool_from_anthropic", "tool_to_anthropic"]

#: Prefix of an opaque block's text (an invisible separator, then a tag): never typed by hand.
OPAQUE = "\u2063converse:"
_BYTES = "__bytes__"


def cache_point(ttl: str | None) -> dict[str, Any]:
    """``{"cachePoint": {"type": "default"}}``, with ``ttl`` when given (models that take it)."""
    point: dict[str, Any] = {"type": "default"}
    if ttl is not None:
        point["ttl"] = ttl
    return {"cachePoint": point}


def marker_of(block: Mapping[str, Any], path: str) -> str | None:
    """The TTL a ``cachePoint`` block asks for (``5m`` when it names none); ``None`` for any
    other block. A malformed one is a PromptError naming ``path``."""
    point = block.get("cachePoint")
    if point is None:
        return None
    if not isinstance(point, Mapping) or point.get("type") != "default":
        raise PromptError(f"{path}.cachePoint must be {{'type': 'default'}} with an optional "
                          f"'ttl', got {point!r}.", path=path)
    ttl = point.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise PromptError(f"{path}.cachePoint.ttl must be '5m' or '1h', got {ttl!r}.", path=path)
    return str(ttl)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _unjson(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_BYTES}:
            return base64.b64decode(value[_BYTES])
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    return value


def _opaque(block: Mapping[str, Any]) -> dict[str, Any]:
    text = OPAQUE + json.dumps(_jsonable(block), ensure_ascii=False, separators=(",", ":"))
    return {"type": "text", "text": text}


def _b64(data: Any, path: str) -> str:
    if isinstance(data, bytes | bytearray):
        return base64.b64encode(bytes(data)).decode()
    if isinstance(data, str):
        return data  # already base64 (a dict read back from JSON)
    raise PromptError(f"{path}: expected bytes, got {type(data).__name__}.", path=path)


def _unb64(data: Any, path: str, what: str) -> bytes:
    """``data`` decoded from base64 (whitespace ignored, nothing else): Converse sends ``what``
    as bytes, so a string that is not base64 is a PromptError naming ``path``, never a guess."""
    text = "".join(str(data).split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PromptError(f"{path}: {what} must be base64 (Converse sends it as bytes), got "
                          f"{str(data)[:40]!r}.", path=path) from None


#: What Converse takes in a document's ``name`` (botocore's DocumentBlock): letters, digits,
#: single spaces, hyphens, parentheses, square brackets; 1 to 200 characters.
_NAME_OUT = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")


def _document(block: Mapping[str, Any], data: str) -> dict[str, Any]:
    """A text document with ``citations.enabled`` as Converse's own ``document`` block, so the
    model cites it (``{"citations": {"enabled": true}}``, botocore's CitationsConfig).

    The title is the ``name`` when Converse's name rule allows it; otherwise the name is the
    title with the other characters left out and the title itself heads ``context``, so nothing
    of it is lost.
    """
    title = str(block.get("title") or "")
    name = " ".join(_NAME_OUT.sub(" ", title).split())[:200] or "document"
    context = str(block.get("context") or "")
    if name != title and title:
        context = f"Title: {title}\n\n{context}" if context else f"Title: {title}"
    doc: dict[str, Any] = {"format": "txt", "name": name, "source": {"text": data}}
    if context:
        doc["context"] = context
    doc["citations"] = {"enabled": True}
    return {"document": doc}


#: Anthropic citation type -> (Converse location key, its start and end fields, the index field).
_LOCATIONS = {
    "char_location": ("documentChar", "start_char_index", "end_char_index", "document_index"),
    "page_location": ("documentPage", "start_page_number", "end_page_number", "document_index"),
    "content_block_location": ("documentChunk", "start_block_index", "end_block_index",
                               "document_index"),
    "search_result_location": ("searchResultLocation", "start_block_index", "end_block_index",
                               "search_result_index"),
}


def _citation(cite: Any, path: str) -> dict[str, Any]:
    """One Anthropic citation as a Converse ``Citation`` (botocore's CitationsContentBlock)."""
    kind = cite.get("type") if isinstance(cite, Mapping) else None
    if not isinstance(cite, Mapping) or (kind not in _LOCATIONS
                                          and kind != "web_search_result_location"):
        raise PromptError(f"{path}: a citation of type {kind!r} has no Converse form (char, page, "
                          "content block, search result or web search result locations).",
                          path=path)
    out: dict[str, Any] = {}
    title = cite.get("document_title", cite.get("title"))
    if title is not None:
        out["title"] = str(title)
    if cite.get("source") is not None:
        out["source"] = str(cite["source"])
    if cite.get("cited_text") is not None:
        out["sourceContent"] = [{"text": str(cite["cited_text"])}]
    if kind == "web_search_result_location":
        out["location"] = {"web": {"url": str(cite.get("url", ""))}}
    else:
        key, start, end, index = _LOCATIONS[str(kind)]
        index_key = "searchResultIndex" if index == "search_result_index" else "documentIndex"
        out["location"] = {key: {index_key: cite.get(index, 0), "start": cite.get(start, 0),
                                 "end": cite.get(end, 0)}}
    return out


def _result_part(part: Any, path: str) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise PromptError(f"{path} must be an object, got {part!r}.", path=path)
    if set(part) == {"text"}:
        return {"type": "text", "text": str(part["text"])}
    return _opaque(part)


def to_anthropic(block: Any, path: str) -> dict[str, Any]:
    """One Converse content block (not a ``cachePoint``) in the Anthropic shape."""
    if not isinstance(block, Mapping) or len(block) != 1:
        raise PromptError(f"{path} must be a Converse content block: an object with one key "
                          f"(text, image, toolUse, ...), got {block!r}.", path=path)
    (kind, value), = block.items()
    if kind == "text":
        if not isinstance(value, str):
            raise PromptError(f"{path}.text must be a string.", path=f"{path}.text")
        return {"type": "text", "text": value}
    if kind == "toolUse" and isinstance(value, Mapping):
        return {"type": "tool_use", "id": value.get("toolUseId"), "name": value.get("name"),
                "input": _jsonable(value.get("input", {}))}
    if kind == "toolResult" and isinstance(value, Mapping):
        content = [_result_part(p, f"{path}.toolResult.content[{i}]")
                   for i, p in enumerate(value.get("content") or ())]
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": value.get("toolUseId"),
                               "content": content}
        if value.get("status") == "error":
            out["is_error"] = True
        return out
    if kind == "reasoningContent" and isinstance(value, Mapping):
        text = value.get("reasoningText")
        if isinstance(text, Mapping):
            thinking = {"type": "thinking", "thinking": str(text.get("text", ""))}
            if text.get("signature") is not None:
                thinking["signature"] = str(text["signature"])
            return thinking
        if "redactedContent" in value:
            return {"type": "redacted_thinking",
                    "data": _b64(value["redactedContent"], f"{path}.reasoningContent")}
    image = value if kind == "image" else None
    if isinstance(image, Mapping) and isinstance(image.get("source"), Mapping) \
            and set(image["source"]) == {"bytes"} and isinstance(image.get("format"), str):
        return {"type": "image", "source": {
            "type": "base64", "media_type": f"image/{image['format']}",
            "data": _b64(image["source"]["bytes"], f"{path}.image.source.bytes")}}
    return _opaque(block)


def _text_back(text: str) -> dict[str, Any]:
    if text.startswith(OPAQUE):
        value = _unjson(json.loads(text[len(OPAQUE):]))
        return dict(value)
    return {"text": text}


def _result_back(part: Any, path: str) -> dict[str, Any]:
    if isinstance(part, str):
        return {"text": part}
    if isinstance(part, Mapping) and part.get("type") == "text":
        return _text_back(str(part.get("text", "")))
    kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
    raise PromptError(f"{path}: a tool_result part of type {kind!r} has no Converse equivalent "
                      "here; send text.", path=path)


def from_anthropic(block: Mapping[str, Any], path: str) -> dict[str, Any]:
    """One Anthropic content block as the Converse block Bedrock takes (markers excluded)."""
    kind = block.get("type")
    if kind == "text" and block.get("citations"):
        cites = block["citations"]
        if not isinstance(cites, list | tuple):
            raise PromptError(f"{path}.citations must be a list.", path=f"{path}.citations")
        return {"citationsContent": {
            "content": [{"text": str(block.get("text", ""))}],
            "citations": [_citation(c, f"{path}.citations[{i}]") for i, c in enumerate(cites)]}}
    if kind == "text":
        return _text_back(str(block.get("text", "")))
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block.get("id"), "name": block.get("name"),
                            "input": _unjson(block.get("input", {}))}}
    if kind == "tool_result":
        content = block.get("content", "")
        parts = [content] if isinstance(content, str) else list(content or ())
        out: dict[str, Any] = {"toolUseId": block.get("tool_use_id"),
                               "content": [_result_back(p, f"{path}.content[{i}]")
                                           for i, p in enumerate(parts)]}
        if block.get("is_error"):
            out["status"] = "error"
        return {"toolResult": out}
    if kind == "thinking":
        text: dict[str, Any] = {"text": str(block.get("thinking", ""))}
        if block.get("signature") is not None:
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": _unb64(
            block.get("data", ""), f"{path}.data", "a redacted_thinking block's data")}}
    source = block.get("source")
    if kind == "image" and isinstance(source, Mapping) and source.get("type") == "base64":
        media = str(source.get("media_type", "image/png"))
        return {"image": {"format": media.partition("/")[2] or "png",
                          "source": {"bytes": _unb64(source.get("data", ""),
                                                     f"{path}.source.data", "an image's data")}}}
    if kind == "document" and isinstance(source, Mapping) and source.get("type") == "text":
        citations = block.get("citations")
        if isinstance(citations, Mapping) and citations.get("enabled"):
            return _document(block, str(source.get("data", "")))
        title = block.get("title")
        head = f"{title}\n\n" if title else ""
        context = block.get("context")
        tail = f"\n\n{context}" if context else ""
        return {"text": f"{head}{source.get('data', '')}{tail}"}
    raise PromptError(f"{path}: a {kind!r} block has no Converse equivalent promptcache can "
                      "render; send it as a Converse block to wrap(client) instead.", path=path)


def tool_to_anthropic(tool: Any, path: str) -> dict[str, Any]:
    """A ``toolConfig.tools`` entry (``toolSpec``) as an Anthropic tool definition."""
    spec = tool.get("toolSpec") if isinstance(tool, Mapping) else None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise PromptError(f"{path} must be {{'toolSpec': {{'name': ..., 'inputSchema': ...}}}} "
                          f"(promptcache reads toolSpec tools only), got {tool!r}.", path=path)
    schema = spec.get("inputSchema")
    out: dict[str, Any] = {"name": spec["name"]}
    if spec.get("description") is not None:
        out["description"] = spec["description"]
    out["input_schema"] = (schema.get("json") if isinstance(schema, Mapping) else None) or {
        "type": "object", "properties": {}}
    return out


def tool_from_anthropic(tool: Mapping[str, Any], path: str) -> dict[str, Any]:
    """An Anthropic tool definition as a Converse ``toolSpec``."""
    name = tool.get("name")
    if not isinstance(name, str) or not name or "input_schema" not in tool:
        raise PromptError(f"{path}: only custom tools (name, input_schema) have a Converse "
                          f"toolSpec; got {sorted(tool)}.", path=path)
    spec: dict[str, Any] = {"name": name}
    if tool.get("description") is not None:
        spec["description"] = tool["description"]
    spec["inputSchema"] = {"json": tool["input_schema"]}
    return {"toolSpec": spec}
