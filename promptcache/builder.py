"""PromptBuilder: composes tools, instructions, examples, documents and turns into a Prompt.

Parts can be added in any order; ``build()`` orders them into layers by volatility within the
prefix hierarchy every provider caches by (tools, then system, then messages), so that what changes
least comes first and a change invalidates as little as possible. Conversation turns are never
reordered. Every malformed part raises :class:`~promptcache.errors.PromptError` naming its path.
"""

from __future__ import annotations

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
from promptcache.content import check_text, marker_ttl, message_blocks, strip_marker
from promptcache.errors import PromptError
from promptcache.prompt import Prompt
from promptcache.tokens import TokenCounter, count_block, count_tool, default_counter

__all__ = ["PromptBuilder"]

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
    be continued) and TURN when it is a single question. Pass ``volatility=`` or ``reuse=`` to
    override; ``reuse`` describes expected uses and intervals precisely (see :class:`Reuse`).
    """

    def __init__(self, model: str, *, platform: Literal["api", "bedrock", "vertex"] = "api",
                 counter: TokenCounter | None = None) -> None:
        if not isinstance(model, str) or not model:
            raise PromptError("PromptBuilder needs a model id, e.g. 'claude-sonnet-4-5'.")
        self.model = model
        self.platform = platform
        self._counter = counter if counter is not None else default_counter()
        self._parts: list[_Part] = []
        self._messages: list[Mapping[str, Any]] = []
        self._conversation_reuse: Reuse | None = None
        self._conversation_volatility: Volatility | None = None
        self._params: dict[str, Any] = {}

    # -- parts ---------------------------------------------------------------------------------

    def _add(self, kind: PartKind, payload: Mapping[str, Any], volatility: Volatility,
             reuse: Reuse | None, origin: str) -> None:
        if not isinstance(volatility, Volatility):
            raise PromptError(f"{origin}: volatility must be a promptcache.Volatility, "
                              f"got {volatility!r}.", path=origin)
        self._parts.append(_Part(kind, payload, volatility, reuse, origin, len(self._parts)))

    def add_tools(self, tools: Iterable[Mapping[str, Any]], *,
                  volatility: Volatility = Volatility.STATIC,
                  reuse: Reuse | None = None) -> PromptBuilder:
        """Add Anthropic tool definitions (custom tools or server tools such as web search)."""
        for tool in tools:
            origin = f"tool {len([p for p in self._parts if p.kind == 'tool'])}"
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                raise PromptError(f"{origin}: a tool definition must be a dict with a 'name'.",
                                  path=origin)
            self._add("tool", dict(tool), volatility, reuse, f"tool {tool['name']!r}")
        return self

    def add_system(self, instructions: str | Iterable[Mapping[str, Any]], *,
                   volatility: Volatility = Volatility.STATIC,
                   reuse: Reuse | None = None) -> PromptBuilder:
        """Add system instructions: a string, or Anthropic text blocks."""
        blocks: list[Mapping[str, Any]] = (
            [{"type": "text", "text": instructions}] if isinstance(instructions, str)
            else list(instructions)
        )
        for block in blocks:
            origin = f"system part {len([p for p in self._parts if p.kind == 'instruction'])}"
            if not isinstance(block, Mapping) or block.get("type") != "text":
                raise PromptError(f"{origin}: system accepts only text blocks, got {block!r}.",
                                  path=origin)
            check_text(block, origin)
            self._add("instruction", dict(block), volatility, reuse, origin)
        return self

    def add_documents(self, documents: Iterable[Document | Mapping[str, Any]], *,
                      volatility: Volatility = Volatility.SESSION,
                      reuse: Reuse | None = None) -> PromptBuilder:
        """Add retrieval documents; each renders as one system text block with its id and title."""
        for raw in documents:
            doc = raw if isinstance(raw, Document) else self._document(raw)
            if not doc.text.strip():
                raise PromptError(f"document {doc.id!r}: its text is empty.",
                                  path=f"document {doc.id!r}")
            attrs = [f'id="{doc.id}"'] + ([f'title="{doc.title}"'] if doc.title else [])
            attrs += [f'{k}="{v}"' for k, v in sorted(doc.metadata.items())]
            text = f"<document {' '.join(attrs)}>\n{doc.text}\n</document>"
            self._add("document", {"type": "text", "text": text}, volatility, reuse,
                      f"document {doc.id!r}")
        return self

    @staticmethod
    def _document(raw: Mapping[str, Any]) -> Document:
        try:
            return Document(id=str(raw["id"]), text=str(raw["text"]), title=raw.get("title"),
                            metadata=dict(raw.get("metadata") or {}))
        except KeyError as e:
            raise PromptError(f"a document needs 'id' and 'text'; {e.args[0]!r} is missing "
                              f"in {raw!r}.") from None

    def add_examples(self, examples: Iterable[Example | tuple[str, str]], *,
                     volatility: Volatility = Volatility.STATIC,
                     reuse: Reuse | None = None) -> PromptBuilder:
        """Add few-shot examples, each rendered as one system text block."""
        for raw in examples:
            ex = raw if isinstance(raw, Example) else Example(input=raw[0], output=raw[1])
            text = f"<example>\n<input>{ex.input}</input>\n<output>{ex.output}</output>\n</example>"
            self._add("example", {"type": "text", "text": text}, volatility, reuse,
                      f"example {len([p for p in self._parts if p.kind == 'example'])}")
        return self

    def add_messages(self, messages: Iterable[Mapping[str, Any]]) -> PromptBuilder:
        """Add conversation history in Anthropic message shape (any content block type)."""
        for m in messages:
            self._messages.append(m)
        return self

    def add_user_turn(self, content: str | Iterable[Mapping[str, Any]]) -> PromptBuilder:
        """Add the new user turn (text, or content blocks such as images and tool results)."""
        self._messages.append({"role": "user", "content": content if isinstance(content, str)
                               else list(content)})
        return self

    def conversation(self, *, volatility: Volatility | None = None,
                     reuse: Reuse | None = None) -> PromptBuilder:
        """Say how the conversation will be reused (expected further turns, their pace)."""
        self._conversation_volatility = volatility
        self._conversation_reuse = reuse
        return self

    def set_params(self, **params: Any) -> PromptBuilder:
        """Other call parameters: max_tokens, tool_choice, thinking, metadata, stop_sequences..."""
        for reserved in ("model", "messages", "system", "tools"):
            if reserved in params:
                raise PromptError(f"set_params: {reserved!r} is composed by the builder; use "
                                  "the matching add_* method instead.")
        self._params.update(params)
        return self

    # -- build ---------------------------------------------------------------------------------

    def build(self) -> Prompt:
        """Order the parts into layers and return the immutable Prompt."""
        blocks: list[Block] = []
        layers: list[Layer] = []
        turns: list[Turn] = []

        def open_layer(label: str, section: Section, vol: Volatility, reuse: Reuse,
                       append_only: bool = False) -> None:
            if layers and layers[-1].name == label:
                label = f"{label}:{vol.value}"
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
                tokens = (count_tool(payload, self._counter) if section == "tools"
                          else count_block(payload, self._counter))
                blocks.append(Block(section=section, kind=part.kind,  # type: ignore[arg-type]
                                    payload=payload, path=path, tokens=tokens,
                                    layer=layers[-1].name, user_ttl=ttl))
            close_layer()

        if self._messages:
            vol = self._conversation_volatility or (
                Volatility.SESSION if len(self._messages) > 1 else Volatility.TURN)
            open_layer("conversation", "messages", vol, self._conversation_reuse or vol.default_reuse,
                       append_only=True)
            for m_index, message in enumerate(self._messages):
                turn, new = message_blocks(message, m_index, len(blocks), layers[-1].name,
                                           self._counter)
                turns.append(turn)
                blocks.extend(new)
            close_layer()

        return Prompt(model=self.model, blocks=tuple(blocks), layers=tuple(layers),
                      turns=tuple(turns), params=dict(self._params), platform=self.platform)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={sum(1 for p in self._parts if p.kind == k)}"
                          for k in ("tool", "instruction", "example", "document"))
        return f"PromptBuilder(model={self.model!r}, {kinds}, messages={len(self._messages)})"
