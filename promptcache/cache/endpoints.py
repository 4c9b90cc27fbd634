"""Per-endpoint codecs: an SDK response (or stream event) to bytes and back.

Responses are stored as their JSON (``model_dump``) and rebuilt with the SDK's own model class,
so a hit returns the very type a real call returns. Rebuilding validates: an entry that no longer
fits the installed SDK's types is a miss, never a half-built object.

Validation costs more than the rest of a hit, so recent entries keep a *copier* of the object
they were rebuilt into (``DecodedMemo``, bounded by bytes), and a hit hands out a fresh copy: the
caller owns what it gets back, and mutating it never changes what the next caller sees.
"""

from __future__ import annotations

import base64
import copy
import datetime
import enum
import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from .base import mark_hit

__all__ = ["DECODED_MEMO_BYTES", "ENDPOINTS", "Copier", "DecodedMemo", "LoadFailed", "ResponseCodec",
           "copier"]

#: Bytes of stored entries whose rebuilt objects are kept (the objects take a few times that).
DECODED_MEMO_BYTES: Final = 8 * 1024 * 1024
_IMMUTABLE: Final = frozenset({str, int, float, bool, bytes, type(None), complex, Decimal, UUID,
                               datetime.datetime, datetime.date, datetime.time, datetime.timedelta})

#: A function that returns a fresh deep copy of one object each time it is called.
Copier = Callable[[], Any]


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    """The setter of one of ``BaseModel``'s slots, bypassing its (Python-level) ``__setattr__``."""
    slot = BaseModel.__dict__.get(name)
    setter = getattr(slot, "__set__", None)
    if setter is not None:
        return setter  # type: ignore[no-any-return]
    return lambda obj, value: object.__setattr__(obj, name, value)  # pragma: no cover


# The four slots pydantic's own ``__copy__`` sets on a new instance.
_set_dict: Final = _slot_setter("__dict__")
_set_fields_set: Final = _slot_setter("__pydantic_fields_set__")
_set_extra: Final = _slot_setter("__pydantic_extra__")
_set_private: Final = _slot_setter("__pydantic_private__")


def _immutable(value: Any) -> bool:
    """A value a copy may share: nothing can change it in place (enum members are singletons,
    and ``copy.deepcopy`` returns them as they are)."""
    kind = type(value)
    if kind in _IMMUTABLE or isinstance(value, enum.Enum):
        return True
    if kind is tuple or kind is frozenset:
        return all(_immutable(v) for v in value)
    return False


def copier(value: Any) -> Copier:
    """A function returning a fresh deep copy of ``value`` (as it is now) at each call.

    The walk over ``value``'s structure is done once, here: a copy only allocates the new lists,
    dicts and models and fills them, with no type test per value. This is what a response-cache
    hit pays for its object, several times cheaper than ``model_copy(deep=True)``, which walks
    and tests every value on every copy. Pydantic models are copied as their own ``__copy__``
    does (``__dict__``, fields set, extra, private); values of other mutable types fall back to
    ``copy.deepcopy`` of a private copy. The copier holds nothing the caller can still change:
    ``value`` may be handed out once it is built.
    """
    if _immutable(value):
        return functools.partial(_same, value)
    kind = type(value)
    if kind is list:
        return _list_copier(value)
    if kind is dict:
        return _dict_copier(value)
    if isinstance(value, BaseModel):
        return _model_copier(value)
    return functools.partial(copy.deepcopy, copy.deepcopy(value))


def _same(value: Any) -> Any:
    return value


def _list_copier(value: list[Any]) -> Copier:
    kids = [(i, copier(v)) for i, v in enumerate(value) if not _immutable(v)]
    if not kids:
        return value.copy().copy  # a private list of values a copy may share
    if len(kids) == len(value):  # a list of blocks: the usual case
        makers = tuple(make for _, make in kids)
        return lambda: [make() for make in makers]
    base = [None if not _immutable(v) else v for v in value]

    def copy_list() -> list[Any]:
        out = base.copy()
        for i, make in kids:
            out[i] = make()
        return out

    return copy_list


def _dict_copier(value: dict[Any, Any]) -> Copier:
    kids = tuple((k, copier(v)) for k, v in value.items() if not _immutable(v))
    # Mutable values are placeholders, overwritten in place: the copy keeps the key order.
    base = {k: v if _immutable(v) else None for k, v in value.items()}
    if not kids:
        return base.copy

    def copy_dict() -> dict[Any, Any]:
        out = base.copy()
        for k, make in kids:
            out[k] = make()
        return out

    return copy_dict


def _model_copier(value: BaseModel) -> Copier:
    kind = type(value)
    new = kind.__new__
    fill = _dict_copier(value.__dict__)
    fields_set = set(value.__pydantic_fields_set__)
    extra, private = value.__pydantic_extra__, value.__pydantic_private__
    fill_extra = None if extra is None else copier(extra)
    fill_private = None if private is None else copier(private)

    def copy_model() -> Any:
        model = new(kind)
        _set_dict(model, fill())
        _set_fields_set(model, fields_set.copy())
        _set_extra(model, None if fill_extra is None else fill_extra())
        _set_private(model, None if fill_private is None else fill_private())
        return model

    return copy_model


class DecodedMemo:
    """Copiers of the objects rebuilt from recent entries, keyed by cache key, bounded by the
    entries' bytes.

    A copier is used only when the stored bytes are identical to those its object was built
    from, so an entry rewritten by another process is validated afresh. A hit is one lock-free
    dict read; eviction is first-in first-out. An entry larger than an eighth of ``max_bytes`` is
    never kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: dict[str, tuple[bytes, Copier]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, raw: bytes) -> Copier | None:
        found = self._data.get(key)
        if found is None or found[0] != raw:
            return None
        return found[1]

    def put(self, key: str, raw: bytes, value: Any) -> None:
        """Keep a copier of ``value`` as it is now (``value`` may be handed out afterwards)."""
        if len(raw) > self.max_bytes // 8:
            return
        make = copier(value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._data[key] = (raw, make)
            self._bytes += len(raw)
            while self._bytes > self.max_bytes:
                evicted = self._data.pop(next(iter(self._data)))
                self._bytes -= len(evicted[0])

    @property
    def held_bytes(self) -> int:
        return self._bytes


_decoded = DecodedMemo(DECODED_MEMO_BYTES)


class LoadFailed(Exception):
    """A stored entry cannot be rebuilt into the SDK's type; the caller treats it as a miss."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseCodec:
    """How the response cache stores and rebuilds the answers of one SDK method (the method
    itself is listed in the provider registry)."""

    name: str
    """Hashed into the key, so providers and endpoints never share entries."""
    response_type: Callable[[], Any]
    """The SDK model of a complete response (imported on first use)."""
    event_type: Callable[[], Any]
    """The SDK type of one stream event."""
    streaming: Literal["kwarg", "always", "never"]
    """``kwarg``: ``stream=True`` asks for a stream; ``always``: the method always streams."""
    exclude: frozenset[str] = frozenset()
    """Response fields that describe the transport (HTTP headers), not the answer."""
    plain: bool = False
    """Responses and events are plain dicts (boto3): stored as JSON with bytes tagged, served as
    dicts; ``response_type`` and ``event_type`` are unused."""
    stream_key: str | None = None
    """The call returns a dict whose ``stream_key`` holds the stream (boto3's ``converse_stream``)."""
    served_with: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Fields a hit carries in place of the excluded transport ones."""
    json_mode: bool = False
    """Validate the stored JSON text directly. Off: parse with ``json.loads`` and validate the
    Python objects, which is as fast for a short answer and ~80x faster for a long one (pydantic's
    JSON mode copies a long string once per member of a content-block union it tries). On for
    models whose bytes fields travel base64-encoded, which only JSON mode decodes."""

    def dump(self, response: Any) -> bytes:
        if self.plain:
            return _plain_dump({k: v for k, v in response.items() if k not in self.exclude})
        data: str = response.model_dump_json(
            exclude_none=True, exclude=set(self.exclude) or None, warnings=False
        )
        return data.encode()

    def load(self, raw: bytes, key: str | None = None) -> Any:
        """The SDK object for ``raw``.

        With ``key`` (a hit served under that key), the object is marked as served by the cache
        (:data:`~promptcache.cache.base.HIT_MARKER`), and a recent rebuild is reused: a fresh
        copy from its copier, already marked.
        """
        if key is not None:
            found = _decoded.get(key, raw)
            if found is not None:
                return found()
        if self.plain:
            stored = _plain_load(raw)
            if not isinstance(stored, dict):
                raise LoadFailed("a stored plain response is not an object")
            value = {**stored, **copy.deepcopy(dict(self.served_with))}
            if key is not None:
                _decoded.put(key, raw, value)
            return value
        model = self.response_type()
        try:
            if self.json_mode:
                value = model.model_validate_json(raw)
            else:
                value = model.model_validate(json.loads(raw))
        except (ValidationError, ValueError) as e:  # JSONDecodeError, UnicodeDecodeError
            raise LoadFailed(str(e)) from e
        if key is not None:
            # Marked before its copier is built: every copy carries the marker without paying
            # for pydantic's ``__setattr__`` on each hit.
            _decoded.put(key, raw, mark_hit(value))
        return value

    def dump_events(self, events: list[Any]) -> bytes:
        if self.plain:
            return _plain_dump(list(events))
        dumped = [
            e.model_dump(mode="json", exclude_none=True, exclude=set(self.exclude) or None, warnings=False)
            for e in events
        ]
        return json.dumps(dumped, separators=(",", ":")).encode()

    def load_events(self, raw: bytes) -> list[Any]:
        if self.plain:
            items = _plain_load(raw)
            if not isinstance(items, list):
                raise LoadFailed("stored plain stream events are not a list")
            return items
        adapter = _adapter(self.event_type())
        try:
            items = json.loads(raw)
            if self.json_mode:
                return [adapter.validate_json(json.dumps(item)) for item in items]
            return [adapter.validate_python(item) for item in items]
        except (ValidationError, ValueError, TypeError) as e:
            raise LoadFailed(str(e)) from e


_BYTES: Final = "\x00bytes"


def _tag_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(value).decode()}
    raise TypeError(f"cannot store a {type(value).__name__} in a plain response")


def _untag_bytes(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _BYTES in obj:
        return base64.b64decode(obj[_BYTES])
    return obj


def _plain_dump(value: Any) -> bytes:
    """JSON of a plain (boto3) response or event list; bytes travel as tagged base64."""
    return json.dumps(value, separators=(",", ":"), default=_tag_bytes).encode()


def _plain_load(raw: bytes) -> Any:
    try:
        return json.loads(raw, object_hook=_untag_bytes)
    except (ValueError, TypeError) as e:  # JSONDecodeError, UnicodeDecodeError, bad base64
        raise LoadFailed(str(e)) from e


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _codecs() -> dict[str, ResponseCodec]:
    from promptcache.providers.registry import SPECS

    return {
        m.cached_as: ResponseCodec(
            name=m.cached_as,
            response_type=m.response_type.load if m.response_type is not None else _no_type,
            event_type=m.event_type.load if m.event_type is not None else _no_type,
            streaming=m.streaming,
            exclude=m.exclude,
            json_mode=m.json_mode,
            plain=m.plain,
            stream_key=m.stream_key,
            served_with=m.served_with,
        )
        for spec in SPECS
        for m in spec.methods
        if m.cached_as is not None
        and (m.plain or (m.response_type is not None and m.event_type is not None))
    }


def _no_type() -> Any:
    raise LoadFailed("this endpoint stores plain dicts")


#: Every cacheable SDK method by its endpoint name, built from the provider registry's tables.
ENDPOINTS: dict[str, ResponseCodec] = _codecs()
