"""PromptBuilder: composes tools, instructions, examples, documents and turns into a Prompt.

Parts can be added in any order; ``build()`` orders them into layers by volatility within the
prefix hierarchy every provider caches by (tools, then system, then messages), so that what changes
least comes first and a change invalidates as little as possible. Conversation turns are never
reordered. Every malformed part raises :class:`~promptcache.errors.PromptError` naming its path.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.blocks import (
    Block,
    Document,
    Example,
    Layer,
    PartKind,
    Reuse,
    Section,
    Turn,
    Volatility,
)
from promptcache.content import (
    check_text,
    marker_ttl,
    message_turn,
    read_message,
    readable_block,
    strip_marker,
)
from promptcache.errors import PromptError
from promptcache.prompt import Prompt
from promptcache.sdk import is_sdk_object, plain
from promptcache.tokens import TokenCounter, count_block, count_tool, default_counter

__all__ = ["PromptBuilder", "anthropic_tool", "document_block", "document_text"]

_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

_SYSTEM_KIND_ORDER: dict[PartKind, int] = {"instruction": 0, "example": 1, "document": 2}
_LAYER_LABEL: dict[PartKind, str] = {
    "tool": "tools", "instruction": "system", "example": "examples", "document": "documents",
    "message": "conversation",
}


@dataclass(frozen=True, slots=True)
class _Part:
    kind: PartKind
    payload: Mapping[str, Any]
    volatility: Volatility
    reuse: Reuse | None
    origin: str
    order: int


class PromptBuilder:
    """Collects the parts of one request and builds an immutable, layered :class:`Prompt`.

    Every ``add_*`` method returns the builder, so calls chain. Defaults: tools, instructions and
    examples are STATIC, documents SESSION, the conversation SESSION once it has history (it will
    be continued) and TURN when it is a single question. Pass ``volatility=`` (a
    :class:`Volatility` or its value, ``"static"``) or ``reuse=`` to override; ``reuse`` describes
    expected uses and intervals precisely (see :class:`Reuse`).

    The model is optional: a Prompt can be rendered for any provider, and each renderer takes
    the model it sends to (``render_anthropic(prompt, model=...)``, ``render_openai_chat(prompt,
    model=...)``). Give it here or with :meth:`set_model` when one provider is the target. Parts
    may be SDK objects (``response.content`` blocks, a ``Message``, OpenAI and Gemini types) and
    messages may be OpenAI- or Gemini-shaped.
    """

    def __init__(self, model: str | None = None, *,
                 platform: Literal["api", "bedrock", "vertex"] = "api",
                 counter: TokenCounter | None = None) -> None:
        self.model = ""
        if model is not None:
            self.set_model(model)
        if platform not in ("api", "bedrock", "vertex"):
            raise PromptError(f"platform must be 'api', 'bedrock' or 'vertex', got {platform!r}.",
                              path="platform")
        self.platform = platform
        self._counter = counter if counter is not None else default_counter()
        self._parts: list[_Part] = []
        self._counts: dict[PartKind, int] = dict.fromkeys(_LAYER_LABEL, 0)
        self._messages: list[tuple[str, list[Any], str]] = []
        self._document_blocks: list[_Part] = []
        self._conversation_reuse: Reuse | None = None
        self._conversation_volatility: Volatility | None = None
        self._params: dict[str, Any] = {}

    def set_model(self, model: str) -> PromptBuilder:
        """The model the Prompt is planned for (any provider's id; renderers may override it)."""
        if not isinstance(model, str) or not model:
            raise PromptError(f"model must be a non-empty model id such as 'claude-sonnet-4-5', "
                              f"got {model!r}.", path="model")
        self.model = model
        return self

    def __getattr__(self, name: str) -> Any:
        # ``optimize(builder)`` and friends read a Prompt's attributes: say what to do instead of
        # an AttributeError deep inside the optimizer.
        if name in _PROMPT_ONLY:
            raise PromptError(f"A PromptBuilder has no {name!r}: it is a Prompt's. Call "
                              "builder.build() and pass the Prompt it returns.", path=name)
        raise AttributeError(name)

    # -- parts ---------------------------------------------------------------------------------

    def _add(self, kind: PartKind, payload: Mapping[str, Any], volatility: Volatility,
             reuse: Reuse | None, origin: str) -> None:
        self._parts.append(_Part(kind, payload, volatility, reuse, origin, len(self._parts)))
        self._counts[kind] += 1

    def add_tools(self, tools: Iterable[Any], *,
                  volatility: Volatility | str = Volatility.STATIC,
                  reuse: Reuse | None = None) -> PromptBuilder:
        """Add tool definitions: Anthropic tools (custom or server tools such as web search), SDK
        ``ToolParam`` objects, or OpenAI function tools (chat or responses shape)."""
        vol, reu = _hints(volatility, reuse, "add_tools")
        items = _items(tools, "add_tools", "tool definitions")
        for tool in items:
            origin = f"tools[{self._counts['tool']}]"
            raw = plain(tool, origin)
            if not isinstance(raw, Mapping):
                raise PromptError(f"{origin}: a tool definition must be a dict with a 'name', got "
                                  f"{type(raw).__name__}.", path=origin)
            payload = anthropic_tool(raw, origin)
            self._add("tool", payload, vol, reu, origin)
        return self

    def add_system(self, instructions: str | Iterable[Any], *,
                   volatility: Volatility | str = Volatility.STATIC,
                   reuse: Reuse | None = None) -> PromptBuilder:
        """Add system instructions: a string, or text blocks (dicts or SDK objects)."""
        vol, reu = _hints(volatility, reuse, "add_system")
        blocks = ([{"type": "text", "text": instructions}] if isinstance(instructions, str)
                  else _items(instructions, "add_system", "a string or text blocks"))
        for block in blocks:
            origin = f"system[{self._counts['instruction']}]"
            block = plain(block, origin)
            if not isinstance(block, Mapping) or block.get("type") not in ("text", "input_text"):
                raise PromptError(f"{origin}: system accepts only text blocks, got "
                                  f"{_short(block)}.", path=origin)
            block = {"type": "text", **{k: v for k, v in block.items() if k != "type"}}
            check_text(block, origin)
            self._add("instruction", block, vol, reu, origin)
        return self

    def add_documents(self, documents: Iterable[Document | Mapping[str, Any]], *,
                      volatility: Volatility | str = Volatility.SESSION,
                      reuse: Reuse | None = None,
                      as_: Literal["system_text", "document_blocks"] = "system_text",
                      citations: bool = False) -> PromptBuilder:
        """Add retrieval documents.

        ``as_="system_text"`` (the default) renders each as one system text block,
        ``<document id=".." title="..">`` with its attributes escaped. ``as_="document_blocks"``
        renders each as an Anthropic ``document`` block (plain-text source, its title, its
        metadata as ``context``) in a user message before the conversation, as Anthropic
        recommends for RAG; ``citations=True`` then asks for cited answers.
        """
        vol, reu = _hints(volatility, reuse, "add_documents")
        if as_ not in ("system_text", "document_blocks"):
            raise PromptError(f"add_documents: as_ must be 'system_text' or 'document_blocks', "
                              f"got {as_!r}.", path="as_")
        if citations and as_ != "document_blocks":
            raise PromptError("add_documents: citations=True needs as_='document_blocks' "
                              "(citations are a document block feature).", path="citations")
        for raw in _items(documents, "add_documents", "Documents or dicts"):
            doc = raw if isinstance(raw, Document) else self._document(raw)
            origin = f"document {doc.id!r}"
            if not isinstance(doc.text, str) or not doc.text.strip():
                raise PromptError(f"{origin}: its text is empty.", path=origin)
            if as_ == "document_blocks":
                block = plain(document_block(doc, citations), origin)
                self._document_blocks.append(_Part("document", block, vol, reu, origin,
                                                   len(self._document_blocks)))
                continue
            payload = plain({"type": "text", "text": document_text(doc)}, origin)
            self._add("document", payload, vol, reu, origin)
        return self

    @staticmethod
    def _document(raw: Any) -> Document:
        raw = plain(raw, "document")
        if not isinstance(raw, Mapping):
            raise PromptError(f"a document must be a Document or a dict with 'id' and 'text', "
                              f"got {_short(raw)}.", path="document")
        missing = [k for k in ("id", "text") if k not in raw]
        if missing:
            raise PromptError(f"a document needs 'id' and 'text'; {missing[0]!r} is missing "
                              f"in {_short(raw)}.", path="document")
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise PromptError(f"document {raw['id']!r}: metadata must be a dict.",
                              path=f"document {raw['id']!r}.metadata")
        title = raw.get("title")
        return Document(id=str(raw["id"]), text=str(raw["text"]),
                        title=None if title is None else str(title),
                        metadata={str(k): str(v) for k, v in metadata.items()})

    def add_examples(self, examples: Iterable[Example | tuple[str, str]], *,
                     volatility: Volatility | str = Volatility.STATIC,
                     reuse: Reuse | None = None) -> PromptBuilder:
        """Add few-shot examples (Examples, (input, output) pairs or dicts with input and output),
        each rendered as one system text block."""
        vol, reu = _hints(volatility, reuse, "add_examples")
        for raw in _items(examples, "add_examples", "Examples or (input, output) pairs"):
            origin = f"examples[{self._counts['example']}]"
            ex = _example(raw, origin)
            text = f"<example>\n<input>{ex.input}</input>\n<output>{ex.output}</output>\n</example>"
            plain(text, origin)
            self._add("example", {"type": "text", "text": text}, vol, reu, origin)
        return self

    def add_messages(self, messages: Iterable[Any]) -> PromptBuilder:
        """Add conversation history: dicts or SDK objects, in the Anthropic shape (any content
        block type), the OpenAI chat or responses shape, or Gemini's.

        OpenAI ``system``/``developer`` messages join the system layer (as ``add_system``); a
        ``tool`` message becomes a ``tool_result`` block, ``tool_calls`` become ``tool_use``.
        """
        for message in _items(messages, "add_messages", "messages"):
            origin = f"messages[{len(self._messages)}]"
            role, raw_blocks = read_message(message, origin)
            if role == "system":
                self.add_system(raw_blocks)
            else:
                self._messages.append((role, raw_blocks, origin))
        return self

    def add_user_turn(self, content: str | Iterable[Any]) -> PromptBuilder:
        """Add the new user turn (text, or content blocks such as images and tool results)."""
        if not isinstance(content, str):
            content = _items(content, "add_user_turn", "a string or content blocks")
        return self.add_messages([{"role": "user", "content": content}])

    def conversation(self, *, volatility: Volatility | str | None = None,
                     reuse: Reuse | None = None) -> PromptBuilder:
        """Say how the conversation will be reused (expected further turns, their pace)."""
        self._conversation_volatility = (None if volatility is None
                                         else _volatility(volatility, "conversation"))
        self._conversation_reuse = _reuse(reuse, "conversation")
        return self

    def set_params(self, **params: Any) -> PromptBuilder:
        """Other call parameters: max_tokens, tool_choice, thinking, metadata, stop_sequences..."""
        for reserved in ("model", "messages", "system", "tools"):
            if reserved in params:
                raise PromptError(f"set_params: {reserved!r} is composed by the builder; use "
                                  + ("set_model." if reserved == "model" else
                                     "the matching add_* method instead."), path=reserved)
        for name, value in params.items():
            if name not in _SDK_OPTIONS:
                params[name] = plain(value, name)
        self._params.update(params)
        return self

    # -- build ---------------------------------------------------------------------------------

    def build(self, *, model: str | None = None) -> Prompt:
        """Order the parts into layers and return the immutable Prompt (for ``model`` if given)."""
        if model is not None:
            self.set_model(model)
        blocks: list[Block] = []
        layers: list[Layer] = []
        turns: list[Turn] = []

        def open_layer(label: str, section: Section, vol: Volatility, reuse: Reuse,
                       append_only: bool = False) -> None:
            # Names key the reuse estimates and the state's statistics: two layers sharing one
            # would mix their reuse (a static system layer taking a session one's).
            taken = {layer.name for layer in layers}
            if label in taken:
                label = f"{label}:{vol.value}"
                serial = 2
                base = label
                while label in taken:
                    label, serial = f"{base}:{serial}", serial + 1
            layers.append(Layer(name=label, section=section, volatility=vol, reuse=reuse,
                                start=len(blocks), stop=len(blocks), append_only=append_only))

        def close_layer() -> None:
            if layers:
                last = layers[-1]
                layers[-1] = Layer(name=last.name, section=last.section,
                                   volatility=last.volatility, reuse=last.reuse, start=last.start,
                                   stop=len(blocks), append_only=last.append_only)

        tools = sorted((p for p in self._parts if p.kind == "tool"),
                       key=lambda p: (p.volatility.rank, p.order))
        system = sorted((p for p in self._parts if p.kind != "tool"),
                        key=lambda p: (p.volatility.rank, _SYSTEM_KIND_ORDER[p.kind], p.order))
        for section, parts in (("tools", tools), ("system", system)):
            current: tuple[str, Volatility] | None = None
            for i, part in enumerate(parts):
                key = (_LAYER_LABEL[part.kind], part.volatility)
                if key != current:
                    close_layer()
                    open_layer(key[0], section, part.volatility,  # type: ignore[arg-type]
                               part.reuse or part.volatility.default_reuse)
                    current = key
                path = f"{section}[{i}]"
                ttl = marker_ttl(part.payload, path)
                payload = strip_marker(part.payload)
                with readable_block(path):
                    tokens = (count_tool(payload, self._counter) if section == "tools"
                              else count_block(payload, self._counter))
                    blocks.append(Block(section=section, kind=part.kind,  # type: ignore[arg-type]
                                        payload=payload, path=path, tokens=tokens,
                                        layer=layers[-1].name, user_ttl=ttl))
            close_layer()

        offset = 0
        if self._document_blocks:
            # Document blocks are content blocks: they open the messages, in one user message
            # before the conversation, ordered by volatility like the system parts.
            parts = sorted(self._document_blocks, key=lambda p: (p.volatility.rank, p.order))
            first_block = len(blocks)
            current_vol: Volatility | None = None
            for i, part in enumerate(parts):
                if part.volatility is not current_vol:
                    close_layer()
                    open_layer("documents", "messages", part.volatility,
                               part.reuse or part.volatility.default_reuse)
                    current_vol = part.volatility
                path = f"messages[0].content[{i}]"
                with readable_block(path):
                    blocks.append(Block(section="messages", kind="document", payload=part.payload,
                                        path=path, tokens=count_block(part.payload, self._counter),
                                        layer=layers[-1].name, role="user", first=i == 0))
            close_layer()
            turns.append(Turn(role="user", start=first_block, stop=len(blocks)))
            offset = 1

        if self._messages:
            vol = self._conversation_volatility or (
                Volatility.SESSION if len(self._messages) > 1 else Volatility.TURN)
            open_layer("conversation", "messages", vol, self._conversation_reuse or vol.default_reuse,
                       append_only=True)
            for m_index, (role, raw_blocks, _) in enumerate(self._messages):
                turn, new = message_turn(role, raw_blocks, f"messages[{m_index + offset}]",
                                         len(blocks), layers[-1].name, self._counter)
                turns.append(turn)
                blocks.extend(new)
            close_layer()

        return Prompt(model=self.model, blocks=tuple(blocks), layers=tuple(layers),
                      turns=tuple(turns), params=dict(self._params), platform=self.platform)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={sum(1 for p in self._parts if p.kind == k)}"
                          for k in ("tool", "instruction", "example", "document"))
        return f"PromptBuilder(model={self.model!r}, {kinds}, messages={len(self._messages)})"


_PROMPT_ONLY = frozenset({"blocks", "layers", "turns", "params", "fingerprints", "prefix_tokens",
                          "total_tokens", "extend", "salt", "cache_view", "layer_of"})
_SDK_OPTIONS = frozenset({"timeout", "extra_headers", "extra_query", "extra_body"})


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _items(value: Any, where: str, what: str) -> list[Any]:
    """``value`` as a list; a clear error for None, a string, a dict or a non-iterable."""
    if value is None or isinstance(value, str | bytes | Mapping) or is_sdk_object(value):
        raise PromptError(f"{where}: expected a list of {what}, got {_short(value)}.", path=where)
    try:
        return list(value)
    except TypeError:
        raise PromptError(f"{where}: expected a list of {what}, got {_short(value)}.",
                          path=where) from None


def _volatility(value: Any, where: str) -> Volatility:
    if isinstance(value, Volatility):
        return value
    try:
        return Volatility(value)
    except (ValueError, TypeError):
        raise PromptError(f"{where}: volatility must be a promptcache.Volatility or one of "
                          f"{', '.join(v.value for v in Volatility)}, got {_short(value)}.",
                          path=f"{where}.volatility") from None


def _reuse(value: Any, where: str) -> Reuse | None:
    if value is None or isinstance(value, Reuse):
        return value
    raise PromptError(f"{where}: reuse must be a promptcache.Reuse (e.g. Reuse(uses=20, "
                      f"interval=120)), got {_short(value)}.", path=f"{where}.reuse")


def _hints(volatility: Any, reuse: Any, where: str) -> tuple[Volatility, Reuse | None]:
    return _volatility(volatility, where), _reuse(reuse, where)


def _example(raw: Any, origin: str) -> Example:
    if isinstance(raw, Example):
        pair: tuple[Any, Any] = (raw.input, raw.output)
    elif isinstance(raw, Mapping) and "input" in raw and "output" in raw:
        pair = (raw["input"], raw["output"])
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        pair = (raw[0], raw[1])
    else:
        raise PromptError(f"{origin}: an example is an Example, an (input, output) pair or a dict "
                          f"with 'input' and 'output', got {_short(raw)}.", path=origin)
    if not all(isinstance(x, str) and x.strip() for x in pair):
        raise PromptError(f"{origin}: an example's input and output must be non-empty strings, "
                          f"got {_short(pair)}.", path=origin)
    return Example(input=pair[0], output=pair[1])


def anthropic_tool(tool: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """One tool definition in the Anthropic shape; OpenAI function tools are translated."""
    if tool.get("type") == "function":
        inner = tool.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else tool
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise PromptError(f"{origin}: a function tool needs a name.", path=origin)
        out: dict[str, Any] = {"name": name}
        if fn.get("description"):
            out["description"] = fn["description"]
        out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
        return out
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise PromptError(f"{origin}: a tool definition must be a dict with a 'name', got "
                          f"{_short(tool)}.", path=origin)
    return dict(tool)


def document_text(doc: Document) -> str:
    """``<document id=".." title="..">`` text with every attribute value escaped: a quote in an
    id or a title cannot inject another attribute."""
    attrs = [("id", doc.id)] + ([("title", doc.title)] if doc.title else [])
    attrs += sorted(doc.metadata.items())
    for key, _ in attrs:
        if not _ATTR_NAME.fullmatch(key):
            raise PromptError(f"document {doc.id!r}: metadata key {key!r} is not a valid "
                              "attribute name (letters, digits, '_', '-', '.').",
                              path=f"document {doc.id!r}.metadata")
    rendered = " ".join(f'{k}="{html.escape(str(v), quote=True)}"' for k, v in attrs)
    return f"<document {rendered}>\n{doc.text}\n</document>"


def document_block(doc: Document, citations: bool) -> dict[str, Any]:
    """An Anthropic ``document`` content block with a plain-text source."""
    block: dict[str, Any] = {"type": "document", "source": {
        "type": "text", "media_type": "text/plain", "data": doc.text}}
    if doc.title:
        block["title"] = doc.title
    context = "\n".join(f"{k}: {v}" for k, v in [("id", doc.id), *sorted(doc.metadata.items())])
    block["context"] = context
    if citations:
        block["citations"] = {"enabled": True}
    return block
