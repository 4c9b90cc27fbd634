"""Checking user content as it enters a prompt: content blocks, markers, messages.

Shared by :class:`~promptcache.builder.PromptBuilder` and :meth:`Prompt.extend
<promptcache.prompt.Prompt.extend>`, so a turn added either way is checked, counted and digested
the same way, once. Every malformed part raises :class:`~promptcache.errors.PromptError` (or
:class:`~promptcache.errors.RuleViolation` for a marker the API would reject) naming its path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from promptcache.blocks import Block, Turn
from promptcache.errors import PromptError, RuleViolation
from promptcache.positions import unmarkable_reason
from promptcache.sdk import plain
from promptcache.shapes import content_part, message_parts
from promptcache.tokens import TokenCounter, count_block

__all__ = [
    "CONTENT_TYPES",
    "check_text",
    "content_block",
    "marker_ttl",
    "message_blocks",
    "message_turn",
    "read_message",
    "readable_block",
    "strip_marker",
]

#: Content block types the Messages API accepts in a message.
CONTENT_TYPES = frozenset({
    "text", "image", "document", "search_result", "tool_use", "tool_result", "thinking",
    "redacted_thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
    "tool_reference", "mcp_tool_use", "mcp_tool_result",
})


def marker_ttl(block: Mapping[str, Any], origin: str) -> str | None:
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


def strip_marker(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def check_text(block: Mapping[str, Any], origin: str) -> None:
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
    if content is None or type(content) is str:
        return  # the usual tool_result: nothing nested (and no ABC check to say so)
    if isinstance(content, Sequence) and not isinstance(content, str):
        for i, sub in enumerate(content):
            if isinstance(sub, Mapping) and "cache_control" in sub:
                path = f"{origin}.content[{i}]"
                raise RuleViolation(
                    f"{path}: cache_control on a sub-block cannot take effect; put it on the "
                    f"parent block {origin} instead.", path=path, rule="sub-block-marker",
                )


def content_block(raw: Any, origin: str) -> dict[str, Any]:
    """One content block (already plain, see :func:`promptcache.sdk.plain`), checked; OpenAI
    parts (``image_url``, ``input_text``...) are read as their Anthropic equivalent."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise PromptError(f"{origin}: a content block must be a dict, got {type(raw).__name__}.",
                          path=origin)
    raw = content_part(raw, origin)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CONTENT_TYPES:
        raise PromptError(
            f"{origin}: unknown content block type {kind!r}; expected one of "
            f"{', '.join(sorted(CONTENT_TYPES))}.", path=origin,
        )
    if kind == "text":
        check_text(raw, origin)
    elif kind == "tool_use" and type(raw.get("input")) is not dict and not isinstance(
            raw.get("input"), Mapping):
        raise PromptError(f"{origin}.input: a tool_use block's input must be an object (a dict), "
                          f"got {type(raw.get('input')).__name__}.", path=f"{origin}.input")
    _check_nested_markers(raw, origin)
    return dict(raw)


def read_message(message: Any, origin: str) -> tuple[str, list[Any]]:
    """The role and raw content blocks of one message in any SDK's shape, object or dict.

    The role is ``system`` for an OpenAI ``system``/``developer`` message (see
    :func:`promptcache.shapes.message_parts`).
    """
    message = plain(message, origin)
    if not isinstance(message, Mapping):
        raise PromptError(f"{origin}: a message must be a dict with 'role' and 'content', got "
                          f"{type(message).__name__}.", path=origin)
    role, raw_blocks = message_parts(message, origin)
    if not raw_blocks:
        raise PromptError(f"{origin}.content: must be a non-empty string or list of blocks.",
                          path=f"{origin}.content")
    return role, raw_blocks


def message_blocks(message: Any, m_index: int, start: int, layer: str,
                   counter: TokenCounter) -> tuple[Turn, list[Block]]:
    """The Turn and Blocks of ``messages[m_index]``, its first block at position ``start``.

    ``message`` may be an SDK object (a whole ``Message`` appended as the assistant turn) or a
    dict in the Anthropic, OpenAI or Gemini shape.
    """
    origin = f"messages[{m_index}]"
    role, raw_blocks = read_message(message, origin)
    if role == "system":
        raise PromptError(f"{origin}.role: a system/developer message cannot be appended to the "
                          "conversation; give it to PromptBuilder.add_system (or "
                          "add_messages, which moves it there).", path=f"{origin}.role")
    return message_turn(role, raw_blocks, origin, start, layer, counter)


@contextlib.contextmanager
def readable_block(path: str) -> Iterator[None]:
    """Turn what reading a block's JSON raises into a PromptError naming ``path``: a value that
    is not JSON data (a key of type bytes, say) or nesting deeper than Python's recursion."""
    try:
        yield
    except (TypeError, ValueError, RecursionError) as e:
        raise _unreadable(path, e) from None


def _unreadable(path: str, error: Exception) -> PromptError:
    """The PromptError for a block whose JSON cannot be read (see :func:`readable_block`)."""
    if isinstance(error, RecursionError):
        return PromptError(f"{path}: nested too deeply for promptcache to read (it walks blocks "
                           "recursively); flatten the structure.", path=path)
    return PromptError(f"{path}: not JSON data ({error}).", path=path)


def message_turn(role: str, raw_blocks: Sequence[Any], origin: str, start: int, layer: str,
                 counter: TokenCounter) -> tuple[Turn, list[Block]]:
    """The Turn and checked Blocks of one message already read by :func:`read_message`."""
    blocks: list[Block] = []
    for c_index, raw in enumerate(raw_blocks):
        path = f"{origin}.content[{c_index}]"
        block = content_block(raw, path)  # a copy of its own
        if "cache_control" in block:
            ttl = marker_ttl(block, path)
            payload = strip_marker(block)
        else:
            ttl, payload = None, block
        unmarkable = unmarkable_reason(payload)
        if unmarkable and ttl is not None:
            raise RuleViolation(
                f"{path}: cache_control on a {payload['type']} block is rejected by the "
                "API; mark the next text, tool_use or tool_result block instead.",
                path=path, rule="uncacheable-block",
            )
        try:  # readable_block(path), inline: this loop runs for every new block
            blocks.append(Block(section="messages", kind="message", payload=payload, path=path,
                                tokens=count_block(payload, counter), layer=layer,
                                user_ttl=ttl, unmarkable=unmarkable, role=role,
                                first=c_index == 0))
        except (TypeError, ValueError, RecursionError) as e:
            raise _unreadable(path, e) from None
    return Turn(role=role, start=start, stop=start + len(blocks)), blocks  # type: ignore[arg-type]
