"""Anthropic-shaped blocks to OpenAI chat messages and responses input items.

Kept apart from :mod:`promptcache.providers.openai.render` (which decides what to cache) because the
translation is reused by the Gemini OpenAI-compatible endpoint. Every block the target cannot
take is reported in ``dropped`` with its path, never skipped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptcache.errors import PromptError
from promptcache.prompt import Prompt
from promptcache.providers.common import (
    canonical,
    citations_enabled,
    document_header,
    dumps,
    field_of,
    headed,
)

__all__ = ["Api", "Translation", "translate", "unmarkable_reason"]

Api = Literal["chat", "responses"]


@dataclass(slots=True)
class Translation:
    """The translated request parts; ``breakpoints`` are (rendered path, ttl) in request order."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    breakpoints: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def unmarkable_reason(api: Api, payload: Mapping[str, Any], section: str, role: str) -> str:
    """Why a block cannot carry ``prompt_cache_breakpoint`` on ``api`` ('' when it can)."""
    kind = payload.get("type")
    if section == "tools":
        return "an OpenAI tool definition cannot carry prompt_cache_breakpoint"
    if kind in ("thinking", "redacted_thinking"):
        return f"a {kind} block is dropped for OpenAI"
    if kind == "tool_use":
        return "a tool_use block becomes a function call, which cannot carry a breakpoint"
    if api == "responses" and role == "assistant":
        return "assistant text is sent as a string on the responses API"
    if kind not in ("text", "image", "document", "tool_result", "search_result"):
        return f"a {kind} block has no OpenAI equivalent"
    return ""


def _source(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A block's ``source``, or an empty one when it is missing or not an object."""
    source = payload.get("source")
    return source if isinstance(source, Mapping) else {}


def _data_url(source: Mapping[str, Any]) -> str | None:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', 'application/octet-stream')};base64,{source.get('data', '')}"
    if source.get("type") == "url":
        return str(source.get("url"))
    return None


def _content_of(payload: Mapping[str, Any], path: str) -> Any:
    """A tool_result's (or search_result's) ``content``: a string, a list of blocks, or absent.

    Anything else (a number, a mapping) is a PromptError naming the block: the API rejects it,
    and iterating it raised a bare TypeError.
    """
    content = payload.get("content")
    if content is None or isinstance(content, str | list | tuple):
        return content
    raise PromptError(f"{path}.content: a {payload.get('type')} block's content must be a string "
                      f"or a list of content blocks (got {type(content).__name__}); the API "
                      "rejects anything else.", path=f"{path}.content")


def _text_of(content: Any) -> tuple[str, list[str]]:
    """The text of a tool_result's content, and the kinds of sub-blocks that had to be left out."""
    if isinstance(content, str):
        return content, []
    texts, lost = [], []
    for sub in content or ():
        if isinstance(sub, Mapping) and sub.get("type") == "text":
            texts.append(str(sub.get("text", "")))
        else:
            lost.append(str(sub.get("type") if isinstance(sub, Mapping) else type(sub).__name__))
    return "\n".join(texts), lost


class _Writer:
    def __init__(self, api: Api, marks: Mapping[int, str], system_role: str) -> None:
        self.api = api
        self.marks = marks
        self.system_role = system_role
        self.out = Translation()
        self._tool_names: dict[str, str] = {}

    def _mark(self, part: dict[str, Any], index: int, path: str) -> dict[str, Any]:
        ttl = self.marks.get(index)
        if ttl is not None:
            part["prompt_cache_breakpoint"] = {"mode": "explicit", "ttl": ttl}
            self.out.breakpoints.append((path, ttl))
        return part

    def text(self, text: str) -> dict[str, Any]:
        return {"type": "input_text" if self.api == "responses" else "text", "text": text}

    def part(self, payload: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        """A user-side block as content parts ([] when it has no equivalent, reported as dropped).

        A document's ``title`` and ``context`` (where ``add_documents`` keeps the id and metadata)
        become a text header before its content, the nearest form OpenAI has; its citations
        switch has none, and is reported.
        """
        kind = payload.get("type")
        if kind == "text":
            text = payload.get("text")
            if not isinstance(text, str):
                raise PromptError(f"{where}: a text block needs a 'text' string (got "
                                  f"{type(text).__name__}); the API rejects the request.",
                                  path=f"{where}.text")
            return [self.text(text)]
        if kind == "image":
            url = _data_url(_source(payload))
            if url is not None:
                if self.api == "responses":
                    return [{"type": "input_image", "image_url": url, "detail": "auto"}]
                return [{"type": "image_url", "image_url": {"url": url}}]
        if kind == "document":
            parts = self._document(payload, where)
            if parts:
                self._citations(payload, where, "the document is sent as text without them")
                return parts
        if kind == "search_result":
            text, lost = _text_of(_content_of(payload, where))
            if lost:
                self.out.dropped.append(f"{where}: search_result sub-blocks {', '.join(lost)} have "
                                        f"no {self.api} equivalent; sent its text only")
            self._citations(payload, where, "the result is sent as text without them")
            header = document_header(payload.get("title"), payload.get("source"), label="Source")
            return [self.text(headed(header, text))]
        self.out.dropped.append(f"{where}: a {kind} block has no {self.api} equivalent")
        return []

    def _document(self, payload: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        source = _source(payload)
        header = document_header(payload.get("title"), payload.get("context"))
        if source.get("type") in ("text", "content"):
            if source.get("type") == "text":
                body = str(source.get("data", ""))
            else:
                body, lost = _text_of(_content_of(source, f"{where}.source"))
                if lost:
                    self.out.dropped.append(f"{where}: document content sub-blocks "
                                            f"{', '.join(lost)} have no {self.api} equivalent; "
                                            "sent its text only")
            return [self.text(headed(header, body))]
        url = _data_url(source)
        name = str(payload.get("title") or "document.pdf")
        file: dict[str, Any] | None = None
        if url is not None and source.get("type") == "base64":
            file = ({"type": "input_file", "filename": name, "file_data": url}
                    if self.api == "responses" else
                    {"type": "file", "file": {"filename": name, "file_data": url}})
        elif url is not None and self.api == "responses":
            file = {"type": "input_file", "file_url": url}
        if file is None:
            return []
        return [self.text(header), file] if header else [file]

    def _citations(self, payload: Mapping[str, Any], where: str, consequence: str) -> None:
        """Report a citations switch: OpenAI has no cited answers."""
        if citations_enabled(payload):
            self.out.dropped.append(f"{where}: citations.enabled not sent ({self.api} has no "
                                    f"cited answers); {consequence}")

    def tools(self, prompt: Prompt) -> None:
        tools = [(i, b) for i, b in enumerate(prompt.blocks) if b.section == "tools"]
        # Sorted by name within each layer: the layer order is the cache order, the name order
        # makes the serialisation independent of the order tools were registered in.
        tools.sort(key=lambda ib: (prompt.layers.index(prompt.layer_of(ib[0])), str(ib[1].payload["name"])))
        for _, block in tools:
            tool = block.payload
            schema = tool.get("input_schema")
            if schema is None:
                self.out.dropped.append(
                    f"{block.path}: server tool {tool.get('type')!r} ({tool['name']!r}) has no "
                    "OpenAI equivalent")
                continue
            fn: dict[str, Any] = {"name": tool["name"]}
            if tool.get("description"):
                fn["description"] = tool["description"]
            fn["parameters"] = canonical(schema, f"{block.path}.input_schema")
            if self.api == "responses":
                self.out.tools.append({"type": "function", **fn, "strict": False})
            else:
                self.out.tools.append({"type": "function", "function": fn})

    def system(self, prompt: Prompt) -> None:
        parts: list[dict[str, Any]] = []
        n = len(self.out.items)
        for i, block in enumerate(prompt.blocks):
            if block.section == "system":
                path = f"{self._key()}[{n}].content[{len(parts)}]"
                parts.append(self._mark(self.text(str(block.payload["text"])), i, path))
        if parts:
            self.out.items.append({"role": self.system_role, "content": parts})

    def _key(self) -> str:
        return "input" if self.api == "responses" else "messages"

    def turns(self, prompt: Prompt, first: int = 0) -> None:
        for t_index, turn in enumerate(prompt.turns[first:], start=first):
            indexes = range(turn.start, turn.stop)
            if turn.role == "assistant":
                self._assistant(prompt, indexes)
            else:
                self._user(prompt, indexes, t_index)

    def _user(self, prompt: Prompt, indexes: range, t_index: int) -> None:
        parts: list[tuple[int, dict[str, Any]]] = []
        for i in indexes:
            payload, path = prompt.blocks[i].payload, prompt.blocks[i].path
            if payload.get("type") == "tool_result":
                self._tool_result(i, payload, path)
            else:
                block_parts = self.part(payload, path)
                # A block that became several parts (a document's header, then its file) is
                # marked on its last part: the breakpoint still ends where the block ends.
                parts.extend((i if k == len(block_parts) - 1 else -1, p)
                             for k, p in enumerate(block_parts))
        if parts:
            n = len(self.out.items)
            content = [self._mark(p, i, f"{self._key()}[{n}].content[{k}]")
                       for k, (i, p) in enumerate(parts)]
            self.out.items.append({"role": "user", "content": content})

    def _tool_result(self, index: int, payload: Mapping[str, Any], path: str) -> None:
        call_id = field_of(payload, "tool_use_id", path, "a tool_result block")
        n = len(self.out.items)
        if self.api == "responses":
            parts = self._output_parts(payload, path)
            marked = self._mark(parts[-1], index, f"input[{n}].output[{len(parts) - 1}]")
            self.out.items.append({"type": "function_call_output", "call_id": call_id,
                                   "output": [*parts[:-1], marked]})
            return
        text, lost = _text_of(_content_of(payload, path))
        if lost:
            self.out.dropped.append(f"{path}: tool_result sub-blocks {', '.join(lost)} have no "
                                    f"{self.api} equivalent inside a tool output; sent its text only")
        if payload.get("is_error"):
            text = f"Error: {text}"
        part = self._mark(self.text(text), index, f"messages[{n}].content[0]")
        self.out.items.append({"role": "tool", "tool_call_id": call_id, "content": [part]})

    def _output_parts(self, payload: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        """A tool_result's content as responses ``function_call_output`` parts (images kept)."""
        content = _content_of(payload, path)
        prefix = "Error: " if payload.get("is_error") else ""
        if not isinstance(content, list | tuple):
            return [self.text(prefix + (content if isinstance(content, str) else ""))]
        parts: list[dict[str, Any]] = []
        for k, sub in enumerate(content):
            if isinstance(sub, Mapping):
                parts.extend(self.part(sub, f"{path}.content[{k}]"))
            else:
                self.out.dropped.append(f"{path}.content[{k}]: a {type(sub).__name__} is not a "
                                        "content block")
        if prefix or not parts:
            parts.insert(0, self.text(prefix.strip()))
        return parts

    def _assistant(self, prompt: Prompt, indexes: range) -> None:
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for i in indexes:
            payload, path = prompt.blocks[i].payload, prompt.blocks[i].path
            kind = payload.get("type")
            if kind == "text":
                texts.append(str(payload["text"]))
                if payload.get("citations"):
                    self.out.dropped.append(
                        f"{path}: citations on assistant text not sent ({self.api} has no "
                        "citation objects); the text is sent without them")
            elif kind == "tool_use":
                arguments = dumps(payload.get("input") or {})
                call_id = field_of(payload, "id", path, "a tool_use block")
                name = field_of(payload, "name", path, "a tool_use block")
                if self.api == "responses":
                    calls.append({"type": "function_call", "call_id": call_id,
                                  "name": name, "arguments": arguments})
                else:
                    calls.append({"id": call_id, "type": "function",
                                  "function": {"name": name, "arguments": arguments}})
            elif kind in ("thinking", "redacted_thinking"):
                self.out.dropped.append(f"{path}: {kind} block dropped (OpenAI cannot take another "
                                        "model's reasoning)")
            else:
                self.out.dropped.append(f"{path}: a {kind} block has no {self.api} equivalent in "
                                        "an assistant turn")
        text = "\n\n".join(texts)
        if self.api == "responses":
            if text:
                self.out.items.append({"role": "assistant", "content": text})
            self.out.items.extend(calls)
        elif text or calls:
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = calls
            self.out.items.append(message)


def translate(prompt: Prompt, api: Api, marks: Mapping[int, str], *, system_role: str,
              prefix_cached: bool = False, first_turn: int = 0) -> Translation:
    """Translate ``prompt`` for ``api``, putting a breakpoint on each block index in ``marks``.

    ``prefix_cached`` leaves out tools and system (a Gemini cache already holds them) and
    ``first_turn`` the turns before it, for the Gemini OpenAI-compatible endpoint.
    """
    w = _Writer(api, marks, system_role)
    if not prefix_cached:
        w.tools(prompt)
        w.system(prompt)
    w.turns(prompt, first_turn)
    return w.out
