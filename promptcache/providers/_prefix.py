"""Token streams and prefix hashes shared by the OpenAI and Gemini simulators.

Both providers cache by token prefix rather than by marked block, so their simulators flatten a
request into segments, tokenise them offline and look up the longest stored prefix at a set of
candidate boundaries (every 128 tokens, or every segment end).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.tokens import TiktokenCounter

__all__ = ["Segment", "TokenStream", "encode"]

_encoding: Any = None


def encode(text: str) -> list[int]:
    """Token ids of ``text`` in the offline encoding :mod:`promptcache.tokens` counts with."""
    global _encoding
    if _encoding is None:
        import tiktoken

        _encoding = tiktoken.get_encoding(TiktokenCounter.encoding_name)
    ids: list[int] = _encoding.encode(text, disallowed_special=())
    return ids


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """A piece of the prompt in order; ``breakpoint_ttl`` is set on an explicit cache breakpoint."""

    text: str
    breakpoint_ttl: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenStream:
    """A tokenised prompt with the token offset at which each segment ends."""

    tokens: tuple[int, ...]
    #: ``(end offset, breakpoint TTL or None)`` per segment.
    ends: tuple[tuple[int, str | None], ...]

    @classmethod
    def of(cls, segments: Iterable[Segment]) -> TokenStream:
        tokens: list[int] = []
        ends: list[tuple[int, str | None]] = []
        for segment in segments:
            tokens.extend(encode(segment.text))
            ends.append((len(tokens), segment.breakpoint_ttl))
        return cls(tokens=tuple(tokens), ends=tuple(ends))

    def __len__(self) -> int:
        return len(self.tokens)

    def hashes(self, boundaries: Sequence[int], salt: str = "") -> dict[int, str]:
        """The hash of the prefix ending at each boundary (sorted ascending), keyed by boundary."""
        h = hashlib.sha256(salt.encode())
        out: dict[int, str] = {}
        done = 0
        for boundary in sorted(set(boundaries)):
            chunk = self.tokens[done:boundary]
            h.update(b"".join(t.to_bytes(4, "little") for t in chunk))
            done = boundary
            out[boundary] = h.copy().hexdigest()
        return out

    def head_hash(self, n: int) -> str:
        """A hash of the first ``n`` tokens, which routes a request that has no cache key."""
        return hashlib.sha256(repr(self.tokens[:n]).encode()).hexdigest()
