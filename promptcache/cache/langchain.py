"""Use promptcache's backends as LangChain's LLM cache (``set_llm_cache``).

LangChain is optional: it is imported only when ``langchain_cache`` is called.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from ..errors import MissingDependencyError
from .base import CacheBackend

__all__ = ["langchain_cache"]


@functools.cache
def _adapter_class() -> type[Any]:
    try:
        from langchain_core.caches import BaseCache
        from langchain_core.load import dumps, loads
    except ImportError as e:
        raise MissingDependencyError(
            "The LangChain adapter needs langchain-core. Install it with: pip install langchain-core"
        ) from e

    class PromptCacheLangChainCache(BaseCache):
        """LangChain ``BaseCache`` over a promptcache backend (memory, SQLite or Redis).

        Generations are stored with LangChain's own serialiser, as its caches do, so a hit
        rebuilds the same ``ChatGeneration`` objects.
        """

        def __init__(self, backend: CacheBackend, *, namespace: str, ttl: float | None) -> None:
            self.backend = backend
            self.namespace = namespace
            self.ttl = ttl

        def _key(self, prompt: str, llm_string: str) -> str:
            h = hashlib.sha256(b"promptcache-langchain-v1\x00")
            for part in (self.namespace, llm_string, prompt):
                raw = part.encode("utf-8", "surrogatepass")
                h.update(b"%d:" % len(raw))
                h.update(raw)
            return h.hexdigest()

        def lookup(self, prompt: str, llm_string: str) -> Any:
            raw = self.backend.get(self._key(prompt, llm_string))
            if raw is None:
                return None
            try:
                return loads(raw.decode(), allowed_objects="core")
            except Exception:  # an entry this LangChain cannot read is a miss, not a failure
                return None

        def update(self, prompt: str, llm_string: str, return_val: Any) -> None:
            value = dumps(list(return_val)).encode()
            self.backend.set(self._key(prompt, llm_string), value, ttl=self.ttl)

        def clear(self, **kwargs: Any) -> None:
            self.backend.clear()

        async def alookup(self, prompt: str, llm_string: str) -> Any:
            raw = await self.backend.aget(self._key(prompt, llm_string))
            if raw is None:
                return None
            try:
                return loads(raw.decode(), allowed_objects="core")
            except Exception:
                return None

        async def aupdate(self, prompt: str, llm_string: str, return_val: Any) -> None:
            value = dumps(list(return_val)).encode()
            await self.backend.aset(self._key(prompt, llm_string), value, ttl=self.ttl)

    return PromptCacheLangChainCache


def langchain_cache(backend: CacheBackend, *, namespace: str = "langchain", ttl: float | None = None) -> Any:
    """A ``langchain_core.caches.BaseCache`` storing into ``backend``.

    Use it as ``set_llm_cache(langchain_cache(SQLiteBackend()))``. ``namespace`` separates these
    entries from other tenants sharing the backend.
    """
    return _adapter_class()(backend, namespace=namespace, ttl=ttl)
