"""PromptBuilder: composes tools, instructions, examples, documents and turns into a Prompt.

Parts can be added in any order; ``build()`` orders them into layers by volatility within the
prefix hierarchy every provider caches by (tools, then system, then messages), so that what changes
least comes first and a change invalidates as little as possible. Conversation turns are never
reordered. Every malformed part raises :class:`~promptcache.errors.PromptError` naming its path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .blocks import (
    UNMARKABLE_TYPES,
    Block,
    Document,
    Example,
    Layer,
    PartKind,
    Prompt,
    Reuse,
    Section,
    Turn,
    Volatility,
)
from .errors import PromptError, RuleViolation
from .tokens import TokenCounter, count_block, count_tool, default_counter

__all__ = ["PromptBuilder", "extend_prompt"]

#: Content block types the Messages API accepts in a message.
CONTENT_TYPES = frozenset({
    "text", "image", "document", "search_result", "tool_use", "tool_result", "thinking",
    "redacted_thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
    "tool_reference", "mcp_tool_use", "mcp_tool_result",
})
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


def _marker_ttl(block: Mapping[str, Any], origin: str) -> str | None:
    """The TTL of a hand-set ``cache_control``, validated; None when there is none."""
    cc = block.get("cache_control")
    if cc is None:
        return None
    if not isinstance(cc, Mapping) or cc.get("type") != "ephemeral":
        raise RuleViolation(
            f"{origin}: cache_control must be {{'type': 'ephemeral'}} with an optional 'ttl', "
            f"got {cc!r}.", path=origin, rule="cache-control-shape",
        )
    ttl = cc.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise RuleViolation(
            f"{origin}: cache_control ttl must be '5m' or '1h', got {ttl!r}.",
            path=origin, rule="cache-control-shape",
        )
    return str(ttl)


def _strip_marker(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _check_text(block: Mapping[str, Any], origin: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        raise PromptError(f"{origin}: a text block needs a 'text' string.", path=origin)
    if not text.strip():
        raise PromptError(
            f"{origin}: empty or whitespace-only text block. The Messages API rejects it "
            "(and an empty block can never be cached); remove it.", path=origin,
        )


def _check_nested_markers(block: Mapping[str, Any], origin: str) -> None:
    """Sub-blocks (tool_result content, citations) cannot take a marker: the parent block can."""
    content = block.get("content")
    if isinstance(content, Sequence) and not isinstance(content, str):
        for i, sub in enumerate(content):
            if isinstance(sub, Mapping) and "cache_control" in sub:
                path = f"{origin}.content[{i}]"
                raise RuleViolation(
                    f"{path}: cache_control on a sub-block cannot take effect; put it on the "
                    f"parent block {origin} instead.", path=path, rule="sub-block-marker",
                )


def _content_block(raw: Any, origin: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise PromptError(f"{origin}: a content block must be a dict, got {type(raw).__name__}.",
                          path=origin)
    kind = raw.get("type")
    if kind not in CONTENT_TYPES:
        raise PromptError(
            f"{origin}: unknown content block type {kind!r}; expected one of "
            f"{', '.join(sorted(CONTENT_TYPES))}.", path=origin,
        )
    if kind == "text":
        _check_text(raw, origin)
    _check_nested_markers(raw, origin)
    return dict(raw)


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
            _check_text(block, origin)
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
                ttl = _marker_ttl(part.payload, path)
                payload = _strip_marker(part.payload)
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
                turns.append(self._turn(message, m_index, blocks, layers[-1].name))
            close_layer()

        return Prompt(model=self.model, blocks=tuple(blocks), layers=tuple(layers),
                      turns=tuple(turns), params=dict(self._params), platform=self.platform)

    def _turn(self, message: Mapping[str, Any], m_index: int, blocks: list[Block],
              layer: str) -> Turn:
        origin = f"messages[{m_index}]"
        if not isinstance(message, Mapping):
            raise PromptError(f"{origin}: a message must be a dict with 'role' and 'content'.",
                              path=origin)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise PromptError(f"{origin}: role must be 'user' or 'assistant', got {role!r}.",
                              path=origin)
        content = message.get("content")
        raw_blocks: list[Any]
        if isinstance(content, str):
            raw_blocks = [{"type": "text", "text": content}]
        elif isinstance(content, Sequence) and content:
            raw_blocks = list(content)
        else:
            raise PromptError(f"{origin}: content must be a non-empty string or list of blocks.",
                              path=origin)
        start = len(blocks)
        for c_index, raw in enumerate(raw_blocks):
            path = f"{origin}.content[{c_index}]"
            block = _content_block(raw, path)
            ttl = _marker_ttl(block, path)
            payload = _strip_marker(block)
            unmarkable = ""
            if payload["type"] in UNMARKABLE_TYPES:
                unmarkable = f"a {payload['type']} block cannot carry cache_control"
                if ttl is not None:
                    raise RuleViolation(
                        f"{path}: cache_control on a {payload['type']} block is rejected by the "
                        "API; mark the next text, tool_use or tool_result block instead.",
                        path=path, rule="uncacheable-block",
                    )
            blocks.append(Block(section="messages", kind="message", payload=payload, path=path,
                                tokens=count_block(payload, self._counter), layer=layer,
                                user_ttl=ttl, unmarkable=unmarkable))
        return Turn(role=role, start=start, stop=len(blocks))

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={sum(1 for p in self._parts if p.kind == k)}"
                          for k in ("tool", "instruction", "example", "document"))
        return f"PromptBuilder(model={self.model!r}, {kinds}, messages={len(self._messages)})"



def extend_prompt(prompt: Prompt, messages: Iterable[Mapping[str, Any]],
                  *, counter: TokenCounter | None = None) -> Prompt:
    """``prompt`` with ``messages`` appended to its conversation, reusing every existing block."""
    builder = PromptBuilder(prompt.model, platform=prompt.platform, counter=counter)
    blocks = list(prompt.blocks)
    layers = list(prompt.layers)
    turns = list(prompt.turns)
    new = list(messages)
    if not new:
        return prompt
    if not layers or not layers[-1].append_only:
        vol = Volatility.SESSION if turns or len(new) > 1 else Volatility.TURN
        layers.append(Layer(name="conversation", section="messages", volatility=vol,
                            reuse=vol.default_reuse, start=len(blocks), stop=len(blocks),
                            append_only=True))
    conv = layers[-1]
    if conv.volatility is Volatility.TURN and turns:
        # A single question that gets an answer has become a conversation.
        conv = Layer(name=conv.name, section=conv.section, volatility=Volatility.SESSION,
                     reuse=Volatility.SESSION.default_reuse, start=conv.start, stop=conv.stop,
                     append_only=True)
    for message in new:
        turns.append(builder._turn(message, len(turns), blocks, conv.name))
    layers[-1] = Layer(name=conv.name, section=conv.section, volatility=conv.volatility,
                       reuse=conv.reuse, start=conv.start, stop=len(blocks), append_only=True)
    return Prompt(model=prompt.model, blocks=tuple(blocks), layers=tuple(layers),
                  turns=tuple(turns), params=prompt.params, platform=prompt.platform)
