"""The lifecycle of Gemini explicit caches: find or create, extend while in use, delete when done.

A cache is named by the fingerprint of the prefix it holds (``display_name``), so every process
that builds the same prefix finds the same ``cachedContents`` resource through ``list`` instead of
creating (and paying storage for) its own. Two processes that create at the same moment both see
both caches on their next list; the younger one is deleted by its creator. The decisions
(explicit or implicit, when to extend, which cache to adopt) are pure functions shared by the
sync and async managers; only the SDK calls differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from promptcache.clock import Clock, WallClock
from promptcache.errors import ProviderError
from promptcache.limits import ModelLimits
from promptcache.prompt import Prompt
from promptcache.providers.common import DroppedPolicy, Rendered
from promptcache.providers.gemini.render import (
    CacheDecision,
    CachedPrefix,
    GeminiSplit,
    create_config,
    decide,
    render_gemini,
    require_sdk,
    split,
)

__all__ = ["AsyncGeminiCacheManager", "GeminiCacheManager", "display_name_for"]

_PREFIX = "promptcache-"


def display_name_for(cut: GeminiSplit) -> str:
    """The ``display_name`` that identifies a cached prefix across processes."""
    return _PREFIX + cut.fingerprint


def _model_id(model: str) -> str:
    return model if model.startswith("models/") else f"models/{model}"


def _to_prefix(resource: Any, *, owned: bool) -> CachedPrefix:
    usage = getattr(resource, "usage_metadata", None)
    return CachedPrefix(name=str(resource.name), model=str(resource.model),
                        display_name=str(resource.display_name or ""),
                        expires=resource.expire_time.timestamp() if resource.expire_time else 0.0,
                        tokens=int(getattr(usage, "total_token_count", 0) or 0), owned=owned)


def _matches(resource: Any, display_name: str, model: str) -> bool:
    return bool(resource.display_name == display_name and str(resource.model) == _model_id(model))


def _oldest(resources: Iterable[Any]) -> Any | None:
    found = list(resources)
    return min(found, key=lambda r: (r.create_time, r.name)) if found else None


def _gone(error: Exception) -> bool:
    """True when the SDK error says the cache does not exist (expired, deleted): 403 or 404."""
    return getattr(error, "code", None) in (403, 404)


class _Base:
    def __init__(self, client: Any, *, clock: Clock | None = None, extend_below: float = 0.5,
                 limits: ModelLimits | None = None, on_dropped: DroppedPolicy = "warn") -> None:
        require_sdk()
        #: What rendering does about content Gemini cannot take (see ``render_gemini``).
        self.on_dropped: DroppedPolicy = on_dropped
        self.client = client
        self.clock: Clock = clock if clock is not None else WallClock()
        self.extend_below = extend_below
        self.limits = limits
        #: Caches this manager knows, by display name (a memo: the server is the truth).
        self.known: dict[str, CachedPrefix] = {}

    def _decide(self, prompt: Prompt, model: str, cache_turns: int, ttl: float | None,
                force: bool | None) -> tuple[GeminiSplit, CacheDecision]:
        decision = decide(prompt, model=model, cache_turns=cache_turns, ttl=ttl, limits=self.limits,
                          force=force)
        return split(prompt, model=model, cache_turns=cache_turns), decision

    def _live(self, name: str) -> CachedPrefix | None:
        cache = self.known.get(name)
        if cache is not None and cache.expires <= self.clock.now():
            del self.known[name]
            return None
        return cache

    def _needs_extension(self, cache: CachedPrefix, decision: CacheDecision) -> bool:
        return cache.expires - self.clock.now() < self.extend_below * decision.ttl_seconds

    def _render(self, prompt: Prompt, model: str, cache: CachedPrefix | None, cache_turns: int,
                decision: CacheDecision) -> Rendered:
        return render_gemini(prompt, model=model, cache=cache, cache_turns=cache_turns,
                                       decision=decision, limits=self.limits,
                                       on_dropped=self.on_dropped)


class GeminiCacheManager(_Base):
    """Explicit caches for a ``genai.Client``: ``prepare`` a Prompt, send, ``close`` when done.

    ``clock`` must tell the same time as the server's ``expire_time`` (the wall clock in
    production; the loopback server's clock in tests). A cache is extended by its TTL when less
    than ``extend_below`` of it remains.
    """

    def prepare(self, prompt: Prompt, *, model: str, cache_turns: int = 0, ttl: float | None = None,
                force: bool | None = None) -> Rendered:
        """Decide, find or create the cache if it pays, and render the request that uses it."""
        cut, decision = self._decide(prompt, model, cache_turns, ttl, force)
        if not decision.explicit:
            return self._render(prompt, model, None, cache_turns, decision)
        cache = self.acquire(cut, decision, model=model)
        return self._render(prompt, model, cache, cache_turns, decision)

    def acquire(self, cut: GeminiSplit, decision: CacheDecision, *, model: str) -> CachedPrefix:
        """The live cache for ``cut``: known, found by display name, or created; extended if due."""
        name = display_name_for(cut)
        cache = self._live(name) or self.find(name, model=model)
        if cache is None:
            cache = self._create(cut, decision, name, model)
        elif self._needs_extension(cache, decision):
            cache = self.extend(cache, decision.ttl_seconds)
        self.known[name] = cache
        return cache

    def find(self, display_name: str, *, model: str) -> CachedPrefix | None:
        """The oldest live cache with ``display_name`` for ``model``, via ``caches.list``."""
        try:
            found = _oldest(c for c in self.client.caches.list(config={"page_size": 100})
                            if _matches(c, display_name, model))
        except Exception as e:
            raise ProviderError(f"Listing Gemini caches failed: {e}") from e
        return _to_prefix(found, owned=False) if found is not None else None

    def _create(self, cut: GeminiSplit, decision: CacheDecision, name: str, model: str) -> CachedPrefix:
        try:
            created = self.client.caches.create(model=model, config=create_config(cut, decision, name))
        except Exception as e:
            raise ProviderError(f"Creating the Gemini cache {name!r} failed: {e}") from e
        mine = _to_prefix(created, owned=True)
        oldest = self.find(name, model=model)
        if oldest is not None and oldest.name != mine.name:  # another process won the race
            self.delete(mine)
            return oldest
        return mine

    def extend(self, cache: CachedPrefix, ttl_seconds: float) -> CachedPrefix:
        """Push the cache's expiry to ``ttl_seconds`` from now (``caches.update``)."""
        try:
            updated = self.client.caches.update(name=cache.name, config={"ttl": f"{int(ttl_seconds)}s"})
        except Exception as e:
            raise ProviderError(f"Extending the Gemini cache {cache.name} failed: {e}") from e
        return replace(_to_prefix(updated, owned=cache.owned), tokens=cache.tokens or 0)

    def delete(self, cache: CachedPrefix) -> None:
        """Delete the cache now (storage stops accruing); a cache already gone is not an error."""
        self.known.pop(cache.display_name, None)
        try:
            self.client.caches.delete(name=cache.name)
        except Exception as e:
            if not _gone(e):
                raise ProviderError(f"Deleting the Gemini cache {cache.name} failed: {e}") from e

    def generate_content(self, prompt: Prompt, *, model: str, cache_turns: int = 0,
                         ttl: float | None = None, force: bool | None = None) -> tuple[Any, Rendered]:
        """Prepare and send; if the cache vanished in between (expired, deleted), recreate once."""
        rendered = self.prepare(prompt, model=model, cache_turns=cache_turns, ttl=ttl, force=force)
        try:
            return self.client.models.generate_content(**rendered.kwargs), rendered
        except Exception as e:
            if not (_gone(e) and rendered.plan.mode == "explicit"):
                raise
            self.known.clear()
            rendered = self.prepare(prompt, model=model, cache_turns=cache_turns, ttl=ttl, force=force)
            return self.client.models.generate_content(**rendered.kwargs), rendered

    def close(self) -> None:
        """Delete every cache this manager created; caches found from other processes are kept."""
        for cache in list(self.known.values()):
            if cache.owned:
                self.delete(cache)
        self.known.clear()

    def __enter__(self) -> GeminiCacheManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGeminiCacheManager(_Base):
    """The same lifecycle for ``client.aio``; see :class:`GeminiCacheManager`."""

    async def prepare(self, prompt: Prompt, *, model: str, cache_turns: int = 0,
                      ttl: float | None = None, force: bool | None = None) -> Rendered:
        cut, decision = self._decide(prompt, model, cache_turns, ttl, force)
        if not decision.explicit:
            return self._render(prompt, model, None, cache_turns, decision)
        cache = await self.acquire(cut, decision, model=model)
        return self._render(prompt, model, cache, cache_turns, decision)

    async def acquire(self, cut: GeminiSplit, decision: CacheDecision, *, model: str) -> CachedPrefix:
        name = display_name_for(cut)
        cache = self._live(name) or await self.find(name, model=model)
        if cache is None:
            cache = await self._create(cut, decision, name, model)
        elif self._needs_extension(cache, decision):
            cache = await self.extend(cache, decision.ttl_seconds)
        self.known[name] = cache
        return cache

    async def find(self, display_name: str, *, model: str) -> CachedPrefix | None:
        try:
            pager = await self.client.aio.caches.list(config={"page_size": 100})
            found = _oldest([c async for c in pager if _matches(c, display_name, model)])
        except Exception as e:
            raise ProviderError(f"Listing Gemini caches failed: {e}") from e
        return _to_prefix(found, owned=False) if found is not None else None

    async def _create(self, cut: GeminiSplit, decision: CacheDecision, name: str,
                      model: str) -> CachedPrefix:
        try:
            created = await self.client.aio.caches.create(
                model=model, config=create_config(cut, decision, name))
        except Exception as e:
            raise ProviderError(f"Creating the Gemini cache {name!r} failed: {e}") from e
        mine = _to_prefix(created, owned=True)
        oldest = await self.find(name, model=model)
        if oldest is not None and oldest.name != mine.name:
            await self.delete(mine)
            return oldest
        return mine

    async def extend(self, cache: CachedPrefix, ttl_seconds: float) -> CachedPrefix:
        try:
            updated = await self.client.aio.caches.update(
                name=cache.name, config={"ttl": f"{int(ttl_seconds)}s"})
        except Exception as e:
            raise ProviderError(f"Extending the Gemini cache {cache.name} failed: {e}") from e
        return replace(_to_prefix(updated, owned=cache.owned), tokens=cache.tokens or 0)

    async def delete(self, cache: CachedPrefix) -> None:
        self.known.pop(cache.display_name, None)
        try:
            await self.client.aio.caches.delete(name=cache.name)
        except Exception as e:
            if not _gone(e):
                raise ProviderError(f"Deleting the Gemini cache {cache.name} failed: {e}") from e

    async def generate_content(self, prompt: Prompt, *, model: str, cache_turns: int = 0,
                               ttl: float | None = None,
                               force: bool | None = None) -> tuple[Any, Rendered]:
        rendered = await self.prepare(prompt, model=model, cache_turns=cache_turns, ttl=ttl,
                                      force=force)
        try:
            return await self.client.aio.models.generate_content(**rendered.kwargs), rendered
        except Exception as e:
            if not (_gone(e) and rendered.plan.mode == "explicit"):
                raise
            self.known.clear()
            rendered = await self.prepare(prompt, model=model, cache_turns=cache_turns, ttl=ttl,
                                          force=force)
            return await self.client.aio.models.generate_content(**rendered.kwargs), rendered

    async def close(self) -> None:
        for cache in list(self.known.values()):
            if cache.owned:
                await self.delete(cache)
        self.known.clear()

    async def __aenter__(self) -> AsyncGeminiCacheManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
