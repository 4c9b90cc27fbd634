"""Normalised, secret-free keys for the exact-match response cache.

A key is a SHA-256 over a canonical, type-tagged encoding of (namespace, endpoint, every request
parameter). Mapping keys are sorted, so two requests that differ only in dict order share a key;
anything the API would see differently (a value, a type, a list order) gives a different key.
Transport-only options (timeouts, retries) and credentials never reach the encoding, so neither the
key nor anything stored next to it depends on, or reveals, an API key.

Large strings (a 4k-token system prompt) dominate the cost of hashing, so their digests are
memoised by value: a repeated prompt costs one dict lookup instead of a 20 KB hash.
"""

from __future__ import annotations

import enum
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

__all__ = [
    "TRANSPORT_OPTIONS",
    "CachePolicy",
    "UnkeyableRequest",
    "is_sensitive_name",
    "request_key",
    "sampling_temperature",
]

#: Keyword arguments that change how a request travels, never what the model answers.
TRANSPORT_OPTIONS: Final = frozenset({"timeout", "max_retries", "http_client", "http_options"})

_SENSITIVE = re.compile(r"key|token|secret|auth|cookie|passw|credential|signature", re.IGNORECASE)
_BIG_STRING: Final = 512
_MEMO_SIZE: Final = 256
_VERSION: Final = b"promptcache-response-key-v1\x00"


def is_sensitive_name(name: str) -> bool:
    """Whether a header or query-parameter name may carry a credential (and must be dropped)."""
    return bool(_SENSITIVE.search(name))


class UnkeyableRequest(Exception):
    """A parameter has a type the encoder cannot make canonical; the call bypasses the cache."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """What a wrapped client caches, and where entries live."""

    namespace: str = "default"
    """Isolates tenants: the namespace is hashed into every key, so entries never cross it."""
    cache_sampling: bool = False
    """Cache requests with an explicit temperature above 0. Off because such a caller asked for
    varied answers; a cache would hand back the same one every time."""
    ttl: float | None = None
    """Seconds an entry lives; ``None`` keeps it until evicted."""


class _DigestMemo:
    """A small thread-safe LRU of SHA-256 digests of large strings, keyed by the string itself.

    Keyed by value (not ``id``), so a hit is always correct; CPython caches a str's hash on the
    object, which makes the lookup for the very same prompt object O(1).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, text: str) -> bytes:
        with self._lock:
            found = self._data.get(text)
            if found is not None:
                self._data.move_to_end(text)
                return found
        found = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            self._data[text] = found
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return found


_memo = _DigestMemo(_MEMO_SIZE)


_OMITTED: Final = frozenset({"NotGiven", "Omit"})


def _is_omitted(value: object) -> bool:
    """The SDKs' ``NOT_GIVEN`` / ``omit`` sentinels mean "parameter absent"."""
    return type(value).__name__ in _OMITTED


def _encode(value: object, out: list[bytes]) -> None:
    """Append a canonical, unambiguous (type-tagged, length-prefixed) encoding of ``value``.

    The common JSON types are dispatched on their exact type first: this walk runs on every
    call, and a chain of ``isinstance`` checks would cost more than the lookup it keys.
    """
    kind = type(value)
    if kind is str:
        text = cast(str, value)
        if len(text) > _BIG_STRING:
            out.append(b"S")
            out.append(_memo.digest(text))
        else:
            raw = text.encode("utf-8", "surrogatepass")
            out.append(b"s%d:" % len(raw))
            out.append(raw)
    elif kind is dict:
        mapping = cast(dict[Any, Any], value)
        keys = sorted(k for k, v in mapping.items() if not _is_omitted(v))
        out.append(b"d%d:" % len(keys))
        for k in keys:
            if type(k) is not str:
                raise UnkeyableRequest("mapping keys must be strings")
            _encode(k, out)
            _encode(mapping[k], out)
    elif kind is list:
        items = cast(list[Any], value)
        out.append(b"l%d:" % len(items))
        for item in items:
            _encode(item, out)
    elif kind is int:
        out.append(b"i%d;" % cast(int, value))
    else:
        _encode_other(value, out)


def _encode_other(value: object, out: list[bytes]) -> None:
    """The rarer types: None, bools, floats, other mappings and sequences, bytes, SDK models."""
    if value is None:
        out.append(b"n")
    elif value is True:
        out.append(b"T")
    elif value is False:
        out.append(b"F")
    elif isinstance(value, int):
        out.append(b"i%d;" % value)
    elif isinstance(value, float):
        out.append(b"f" + repr(value).encode() + b";")
    elif isinstance(value, str):
        _encode(str(value), out)
    elif isinstance(value, Mapping):
        _encode(dict(value.items()), out)
    elif isinstance(value, list | tuple):
        _encode(list(value), out)
    elif isinstance(value, bytes | bytearray | memoryview):
        out.append(b"b" + hashlib.sha256(value).digest())
    elif isinstance(value, enum.Enum):
        _encode(value.value, out)
    elif hasattr(value, "model_dump"):
        # SDK models (an earlier response's content blocks, google-genai configs): their JSON form
        # is what goes on the wire. None fields are unset fields for these models.
        _encode(value.model_dump(mode="json", exclude_none=True), out)
    else:
        raise UnkeyableRequest(f"cannot key a parameter of type {type(value).__name__}")


def _scrub(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop transport options and credentials; keep everything that can change the answer."""
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if name in TRANSPORT_OPTIONS or _is_omitted(value) or (name == "stream" and not value):
            continue
        if name in {"extra_headers", "extra_query"} and isinstance(value, Mapping):
            # Beta headers change answers and stay in the key; credentials never do.
            kept = {str(k).lower(): v for k, v in value.items() if not is_sensitive_name(str(k))}
            if kept:
                clean[name] = kept
            continue
        if name == "config" and hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", exclude_none=True)
        if name == "config" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k not in TRANSPORT_OPTIONS}
        clean[name] = value
    return clean


def request_key(endpoint: str, params: Mapping[str, Any], *, namespace: str) -> str:
    """The cache key of one call: hex SHA-256 of namespace, endpoint and the scrubbed parameters.

    Raises ``UnkeyableRequest`` for a parameter type with no canonical form; callers then bypass
    the cache rather than risk two different requests sharing a key.
    """
    out: list[bytes] = [_VERSION]
    _encode(namespace, out)
    _encode(endpoint, out)
    _encode(_scrub(params), out)
    return hashlib.sha256(b"".join(out)).hexdigest()


def sampling_temperature(params: Mapping[str, Any]) -> float | None:
    """The explicit temperature of a request, wherever the SDK puts it; ``None`` if absent.

    Looks at the top-level keyword (OpenAI), ``extra_body`` (Anthropic 2.x has no keyword) and
    google-genai's ``config``.
    """
    for holder in (params, params.get("extra_body"), params.get("config")):
        if holder is None:
            continue
        value = (
            holder.get("temperature") if isinstance(holder, Mapping) else getattr(holder, "temperature", None)
        )
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
