"""Prefix fingerprints: a hash of the request up to each block boundary, ignoring ``cache_control``.

Providers key their caches on exactly this (a hash of the prompt up to a breakpoint), so two
requests share a cache entry at position ``i`` iff their fingerprints at ``i`` are equal. Markers
are excluded, so moving a breakpoint never looks like a content change. What invalidates which
level follows the Anthropic table: tool definitions are part of every fingerprint; ``tool_choice``,
thinking settings and the presence of images are folded in from the first message position on.

Per-block digests are memoised on the block's text (whose hash Python caches on the string), so
re-fingerprinting a long conversation costs one small hash per block.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .blocks import Prompt

__all__ = ["block_digest", "message_level_salt", "prefix_fingerprints"]

_MEMO: dict[str, bytes] = {}
_MEMO_LIMIT = 200_000


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def block_digest(payload: Mapping[str, Any]) -> bytes:
    """A 16-byte digest of one block's content (``cache_control`` excluded)."""
    text = payload.get("text")
    if isinstance(text, str) and len(payload) == 2 and payload.get("type") == "text":
        cached = _MEMO.get(text)
        if cached is None:
            cached = hashlib.blake2b(b"text\x00" + text.encode(), digest_size=16).digest()
            if len(_MEMO) >= _MEMO_LIMIT:
                _MEMO.clear()
            _MEMO[text] = cached
        return cached
    body = {k: v for k, v in payload.items() if k != "cache_control"}
    return hashlib.blake2b(_canonical(body), digest_size=16).digest()


def _has_image(value: Any) -> bool:
    if isinstance(value, Mapping):
        return value.get("type") == "image" or any(_has_image(v) for v in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return any(_has_image(v) for v in value)
    return False


def message_level_salt(params: Mapping[str, Any], has_image: bool) -> bytes:
    """What, besides content, invalidates the message level: tool_choice, thinking, images."""
    relevant = {
        "tool_choice": params.get("tool_choice"),
        "thinking": params.get("thinking"),
        "images": has_image,
    }
    return hashlib.blake2b(_canonical(relevant), digest_size=8).digest()


def prefix_fingerprints(prompt: Prompt) -> tuple[str, ...]:
    """``result[i]`` is the fingerprint of the prompt up to and including block ``i``."""
    h = hashlib.blake2b(f"model:{prompt.model}".encode(), digest_size=16)
    out: list[str] = []
    salted = False
    for block in prompt.blocks:
        if block.section == "messages" and not salted:
            has_image = any(_has_image(b.payload) for b in prompt.blocks if b.section == "messages")
            h.update(message_level_salt(prompt.params, has_image))
            salted = True
        h.update(block.section.encode())
        h.update(block_digest(block.payload))
        out.append(h.copy().hexdigest())
    return tuple(out)
