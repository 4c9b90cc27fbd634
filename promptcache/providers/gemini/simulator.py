"""Gemini's context caching, offline: implicit prefix caching and explicit ``cachedContents``.

Implicit: a longest-prefix match at part boundaries from the model's minimum, entries kept
``implicit_ttl`` seconds after last use. Explicit: ``cachedContents`` resources with a TTL (1 hour
by default) or an expiry time, listed with paging, whose expiry alone can be updated; a
``generateContent`` that names one reads all of its tokens and may not also set
``systemInstruction``, ``tools`` or ``toolConfig``. Storage is accounted in token-hours, the unit
Gemini bills explicit caches by.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from promptcache.clock import Clock, WallClock
from promptcache.limits import ModelLimits, limits_for
from promptcache.providers._prefix import Segment, TokenStream
from promptcache.providers._simerrors import SimulatedAPIError

__all__ = ["CACHED_CONTENT_CONFLICT", "GeminiCacheSimulator", "GeminiResult"]

#: The server's message when a request names a cache and also sets what the cache must hold.
CACHED_CONTENT_CONFLICT = (
    "CachedContent can not be used with GenerateContent request setting system_instruction, "
    "tools or tool_config."
)
_DEFAULT_TTL = 3_600.0
_DURATION = re.compile(r"^(?P<seconds>\d+(?:\.\d+)?)s$")


@dataclass(frozen=True, slots=True, kw_only=True)
class GeminiResult:
    """What one simulated ``generateContent`` read, and its ``usageMetadata`` in wire shape."""

    usage_metadata: dict[str, Any]
    prompt_tokens: int
    cached_tokens: int


@dataclass(slots=True)
class _Cache:
    name: str
    model: str
    display_name: str
    body: dict[str, Any]
    tokens: int
    created: float
    updated: float
    expires: float
    deleted: float | None = None


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _parse_timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _parse_duration(value: Any, path: str) -> float:
    match = _DURATION.match(str(value))
    if match is None:
        raise SimulatedAPIError(
            f"Invalid value at '{path}' ({value!r}): expected a duration such as '300s'.",
            rule="duration",
            path=path,
            style="gemini",
        )
    return float(match.group("seconds"))


def _model_name(model: str) -> str:
    return model if model.startswith("models/") else f"models/{model}"


def _part_text(part: Any) -> str:
    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
        return str(part["text"])
    return json.dumps(part, sort_keys=True, default=str)


def _segments(body: Mapping[str, Any]) -> Iterator[Segment]:
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, Mapping):
        for part in system.get("parts") or ():
            yield Segment(text=_part_text(part))
    for key in ("tools", "toolConfig"):
        if body.get(key):
            yield Segment(text=json.dumps(body[key], sort_keys=True))
    for content in body.get("contents") or ():
        yield Segment(text=f"<{content.get('role', 'user')}>")
        for part in content.get("parts") or ():
            yield Segment(text=_part_text(part))


class GeminiCacheSimulator:
    """An in-memory model of one project's Gemini context caches. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        implicit: bool = True,
        implicit_ttl: float = 300.0,
        limits: ModelLimits | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.implicit = implicit
        self.implicit_ttl = implicit_ttl
        self._limits = limits
        self._implicit: dict[str, float] = {}
        self._caches: dict[str, _Cache] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def limits(self, model: str) -> ModelLimits:
        """The limits used for ``model``: the override if one was given, else the table's row."""
        return self._limits if self._limits is not None else limits_for(model, provider="gemini")

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        """Tokens of a request body (``contents``, ``systemInstruction``, ``tools``)."""
        inner = body.get("generateContentRequest")
        return len(TokenStream.of(_segments(inner if isinstance(inner, Mapping) else body)))

    def generate(
        self,
        model: str,
        body: Mapping[str, Any],
        *,
        now: float | None = None,
        output_tokens: int = 0,
    ) -> GeminiResult:
        """Simulate ``models/{model}:generateContent`` with request ``body`` (wire, camelCase)."""
        when = self.clock.now() if now is None else now
        name = body.get("cachedContent")
        cached = 0
        if name:
            if any(body.get(k) for k in ("systemInstruction", "tools", "toolConfig")):
                raise SimulatedAPIError(
                    CACHED_CONTENT_CONFLICT,
                    rule="cached-content-conflict",
                    path="cachedContent",
                    style="gemini",
                )
            cache = self._live(str(name), when)
            if cache.model != _model_name(model):
                raise SimulatedAPIError(
                    f"Model used by GenerateContent request ({_model_name(model)}) and "
                    f"CachedContent ({cache.model}) has to be the same.",
                    rule="cached-content-model",
                    path="cachedContent",
                    style="gemini",
                )
            cached = cache.tokens
            prompt = cached + self.count_tokens(body)
        else:
            stream = TokenStream.of(_segments(body))
            prompt = len(stream)
            if self.implicit:
                cached = self._implicit_lookup(model, stream, when)
        return GeminiResult(
            usage_metadata=usage_metadata(prompt, cached, output_tokens),
            prompt_tokens=prompt,
            cached_tokens=cached,
        )

    def _implicit_lookup(self, model: str, stream: TokenStream, now: float) -> int:
        minimum = self.limits(model).min_cacheable_tokens
        boundaries = [end for end, _ in stream.ends if end >= minimum]
        hashes = stream.hashes(boundaries, _model_name(model))
        with self._lock:
            cached = 0
            for boundary in sorted(boundaries, reverse=True):
                expiry = self._implicit.get(hashes[boundary])
                if expiry is not None and expiry > now:
                    cached = boundary
                    break
            for boundary in boundaries:
                self._implicit[hashes[boundary]] = now + self.implicit_ttl
        return cached

    # -- cachedContents -------------------------------------------------------------------------

    def create_cache(self, body: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
        """``POST cachedContents``: returns the new resource."""
        when = self.clock.now() if now is None else now
        model = body.get("model")
        if not model:
            raise SimulatedAPIError(
                "cachedContent.model is required.", rule="model", path="model", style="gemini"
            )
        tokens = self.count_tokens(body)
        minimum = self.limits(str(model)).min_cacheable_tokens
        if tokens < minimum:
            raise SimulatedAPIError(
                f"Cached content is too small. total_token_count={tokens}, "
                f"min_total_token_count={minimum}",
                rule="min-cache-tokens",
                path="contents",
                style="gemini",
            )
        with self._lock:
            self._counter += 1
            name = f"cachedContents/sim{self._counter:010d}"
            cache = _Cache(
                name=name,
                model=_model_name(str(model)),
                display_name=str(body.get("displayName", "")),
                body={k: v for k, v in body.items() if k not in ("ttl", "expireTime")},
                tokens=tokens,
                created=when,
                updated=when,
                expires=self._expiry(body, when) or when + _DEFAULT_TTL,
            )
            self._caches[name] = cache
        return self._resource(cache)

    def get_cache(self, name: str, *, now: float | None = None) -> dict[str, Any]:
        """``GET cachedContents/{id}``."""
        return self._resource(self._live(name, self.clock.now() if now is None else now))

    def list_caches(
        self, *, page_size: int = 50, page_token: str | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """``GET cachedContents``: live caches, oldest first, ``page_size`` at a time."""
        when = self.clock.now() if now is None else now
        with self._lock:
            live = [c for c in self._caches.values() if c.deleted is None and c.expires > when]
        start = int(page_token) if page_token else 0
        page = live[start : start + page_size]
        out: dict[str, Any] = {"cachedContents": [self._resource(c) for c in page]}
        if start + page_size < len(live):
            out["nextPageToken"] = str(start + page_size)
        return out

    def update_cache(
        self, name: str, body: Mapping[str, Any], *, now: float | None = None
    ) -> dict[str, Any]:
        """``PATCH cachedContents/{id}``: only ``ttl`` or ``expireTime`` can change."""
        when = self.clock.now() if now is None else now
        cache = self._live(name, when)
        expiry = self._expiry(body, when)
        if expiry is None:
            raise SimulatedAPIError(
                "Only ttl or expireTime of a CachedContent can be updated.",
                rule="update-expiry-only",
                path="ttl",
                style="gemini",
            )
        with self._lock:
            cache.expires = expiry
            cache.updated = when
        return self._resource(cache)

    def delete_cache(self, name: str, *, now: float | None = None) -> None:
        """``DELETE cachedContents/{id}``: storage stops accruing now."""
        when = self.clock.now() if now is None else now
        cache = self._live(name, when)
        with self._lock:
            cache.deleted = when

    def storage_token_hours(self, *, now: float | None = None) -> float:
        """Token-hours of explicit cache storage so far: what Gemini bills storage by."""
        when = self.clock.now() if now is None else now
        with self._lock:
            caches = list(self._caches.values())
        total = 0.0
        for c in caches:
            end = min(when, c.expires, c.deleted if c.deleted is not None else when)
            total += c.tokens * max(0.0, end - c.created) / 3_600
        return total

    def _expiry(self, body: Mapping[str, Any], now: float) -> float | None:
        if body.get("ttl") is not None:
            return now + _parse_duration(body["ttl"], "ttl")
        if body.get("expireTime") is not None:
            return _parse_timestamp(str(body["expireTime"]))
        return None

    def _live(self, name: str, now: float) -> _Cache:
        key = name if name.startswith("cachedContents/") else f"cachedContents/{name}"
        with self._lock:
            cache = self._caches.get(key)
        if cache is None or cache.deleted is not None or cache.expires <= now:
            raise SimulatedAPIError(
                f"CachedContent not found (or permission denied): {key}",
                rule="cache-not-found",
                path="cachedContent",
                status_code=403,
                style="gemini",
            )
        return cache

    def _resource(self, cache: _Cache) -> dict[str, Any]:
        return {
            "name": cache.name,
            "model": cache.model,
            "displayName": cache.display_name,
            "createTime": _timestamp(cache.created),
            "updateTime": _timestamp(cache.updated),
            "expireTime": _timestamp(cache.expires),
            "usageMetadata": {"totalTokenCount": cache.tokens},
        }


def usage_metadata(prompt: int, cached: int, output: int) -> dict[str, Any]:
    """``usageMetadata`` as ``generateContent`` returns it (cached fields only when non-zero)."""
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if cached:
        usage["cachedContentTokenCount"] = cached
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    return usage
