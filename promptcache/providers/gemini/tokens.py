"""What Gemini bills for a rendered request, offline: each part with its own framing.

The Prompt's estimate counts a block's content plus a small constant (``tokens.BLOCK_OVERHEAD``),
the Anthropic way. Gemini sends a function call or a function response as a structured part whose
keys (``functionCall``, ``args``, ``id``, ``name``, ``functionResponse``, ``response``...) are
counted too, and each turn opens with its role: with a turn of fifteen function calls, the
Anthropic-shaped estimate came out 14-43% below the bill. So the Gemini renderer counts what it
renders: text parts by their text, structured parts by their wire JSON (camelCase keys, as
google-genai sends them), media by the block's own estimate (an image is not billed by its
base64 length), each turn's role marker, and tool declarations as sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from promptcache.tokens import TokenCounter, default_counter

__all__ = ["declaration_tokens", "part_tokens", "role_tokens"]

#: Keys whose values are the user's own data, sent as they are (not renamed to camelCase).
_FREE = frozenset({"args", "response", "parameters_json_schema"})
_SNAKE = re.compile(r"_([a-z0-9])")


def _wire(value: Any, free: bool = False) -> Any:
    """``value`` with its field names as google-genai sends them (``function_call`` ->
    ``functionCall``), leaving the user's own dicts (``args``, ``response``, schemas) alone."""
    if isinstance(value, Mapping):
        if free:
            return dict(value)
        return {_SNAKE.sub(lambda m: m.group(1).upper(), str(k)): _wire(v, str(k) in _FREE)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v, free) for v in value]
    return value


def _json_tokens(value: Any, counter: TokenCounter) -> int:
    return counter.count_text(json.dumps(_wire(value), sort_keys=True, ensure_ascii=False,
                                         default=str))


def part_tokens(part: Mapping[str, Any], media_estimate: int,
                counter: TokenCounter | None = None) -> int:
    """Tokens of one rendered part; ``media_estimate`` stands for inline data and file URIs."""
    c = counter if counter is not None else default_counter()
    text = part.get("text")
    if isinstance(text, str) and len(part) == 1:
        return c.count_text(text)
    if "inline_data" in part or "file_data" in part:
        return media_estimate
    return _json_tokens(part, c)


def role_tokens(role: str, counter: TokenCounter | None = None) -> int:
    """The marker that opens each turn of ``contents``."""
    c = counter if counter is not None else default_counter()
    return c.count_text(f"<{role}>")


def declaration_tokens(declaration: Mapping[str, Any], counter: TokenCounter | None = None) -> int:
    """One function declaration, as it is sent inside ``tools``."""
    return _json_tokens(declaration, counter if counter is not None else default_counter())
