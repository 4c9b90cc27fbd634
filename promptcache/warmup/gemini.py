"""Gemini warm-up: create the explicit cache once, then fan out requests that reference it.

Gemini's explicit cache is a resource (``cachedContents/...``) holding the shared contents, the
system instruction and the tools; requests that name it pay the cached-token price for that part.
The API rejects a request that names a cache *and* sets ``system_instruction``, ``tools`` or
``tool_config``, so those go into the cache and never into the requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.errors import MissingDependencyError, PromptError
from promptcache.warmup._run import _progress

__all__ = ["GeminiWarmupResult", "warm_up_gemini"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GeminiWarmupResult:
    """The cache that was created and every response, in request order."""

    cache_name: str
    responses: tuple[Any, ...] = field(repr=False)
    elapsed: float

    @property
    def cached_tokens(self) -> int:
        """``cached_content_token_count`` summed over the responses."""
        return sum(int(getattr(r.usage_metadata, "cached_content_token_count", 0) or 0)
                   for r in self.responses)

    @property
    def prompt_tokens(self) -> int:
        return sum(int(getattr(r.usage_metadata, "prompt_token_count", 0) or 0)
                   for r in self.responses)


async def warm_up_gemini(client: Any, *, model: str, contents: Sequence[Any],
                         requests: Sequence[Any], system_instruction: Any = None,
                         tools: Sequence[Any] | None = None, ttl: str = "3600s",
                         concurrency: int = 8, progress: bool = True,
                         console: Any = None) -> GeminiWarmupResult:
    """Cache ``contents`` (+ system instruction and tools) once, then send each of ``requests``
    (the per-request contents) through ``client.aio`` referencing it, ``concurrency`` at a time.

    ``client`` is a ``google.genai.Client``. The cache is left to expire after ``ttl``; delete it
    with ``client.caches.delete(name=result.cache_name)`` when done early.
    """
    try:
        from google.genai import types
    except ImportError as e:  # pragma: no cover - google-genai is an optional extra
        raise MissingDependencyError('Gemini warm-up needs google-genai: '
                                     'pip install "promptcache[gemini]"') from e
    if not requests:
        raise PromptError("warm_up_gemini: requests is empty.", path="requests")
    t0 = time.perf_counter()
    config = types.CreateCachedContentConfig(contents=list(contents), ttl=ttl,
                                             system_instruction=system_instruction,
                                             tools=list(tools) if tools else None)
    cache = await client.aio.caches.create(model=model, config=config)
    sem = asyncio.Semaphore(concurrency)
    with _progress(progress, len(requests), console) as advance:

        async def one(request: Any) -> Any:
            async with sem:
                response = await client.aio.models.generate_content(
                    model=model, contents=request,
                    config=types.GenerateContentConfig(cached_content=cache.name))
            advance()
            return response

        responses = await asyncio.gather(*(one(r) for r in requests))
    return GeminiWarmupResult(cache_name=str(cache.name), responses=tuple(responses),
                              elapsed=time.perf_counter() - t0)
