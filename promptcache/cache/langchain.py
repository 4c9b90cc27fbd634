"""Use promptcache's backends as LangChain's LLM cache (``set_llm_cache``).

LangChain is optional: it is imported only when ``langchain_cache`` is called.

Every entry lives under ``lc/<namespace digest>/``, so ``clear()`` removes this namespace's
entries and no other's (backends offer ``delete_prefix`` for that). A failing backend or an entry
LangChain cannot read is a miss with a ``CacheUnavailableWarning``: never an error, never silent.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from typing import Any

from ..errors import CacheBackendError, MissingDependencyError
from .base import CacheBackend, CacheUnavailableWarning

__all__ = ["langchain_cache"]


def _warn(what: str, error: BaseException) -> None:
    warnings.warn(
        f"The LangChain response cache could not {what} ({error}); the call goes on uncached.",
        CacheUnavailableWarning,
        stacklevel=3,
    )


@functools.cache
def _adapter_class() -> type[Any]:
    try:
        from langchain_core.caches import BaseCache
        from langchain_core.load import dumps, loads
    except ImportError as e:
        raise MissingDependencyError(
            "The LangChain adapter needs langchain-core. Install it with: "
            'pip install "promptcache[langchain]"'
        ) from e

    # ``loads`` is marked beta: its ``@beta()`` wrapper warns on every call, and under ``-W error``
    # (pytest's filterwarnings) that warning would make every lookup a miss. The function it
    # wraps (``functools.wraps`` keeps it as ``__wrapped__``) is called instead, so nothing is
    # emitted. ``warnings.catch_warnings()`` would silence it too, but it swaps the process-wide
    # filter list and restores its own copy on exit: called from many threads at once it drops
    # filters the application added meanwhile. Once ``loads`` leaves beta it has no wrapper.
    revive = getattr(loads, "__wrapped__", loads)

    def decode(raw: bytes) -> Any:
        return revive(raw.decode(), allowed_objects="core")

    class PromptCacheLangChainCache(BaseCache):
        """LangChain ``BaseCache`` over a promptcache backend (memory, SQLite or Redis).

        Generations are stored with LangChain's own serialiser, as its caches do, so a hit
        rebuilds the same ``ChatGeneration`` objects.
        """

        def __init__(self, backend: CacheBackend, *, namespace: str, ttl: float | None) -> None:
            self.backend = backend
            self.namespace = namespace
            self.ttl = ttl
            digest = hashlib.blake2b(namespace.encode("utf-8", "surrogatepass"), digest_size=16)
            self.prefix = f"lc/{digest.hexdigest()}/"
            """Every key of this namespace starts with it."""

        def _key(self, prompt: str, llm_string: str) -> str:
            h = hashlib.blake2b(b"promptcache-langchain-v2\x00", digest_size=32)
            for part in (llm_string, prompt):
                raw = part.encode("utf-8", "surrogatepass")
                h.update(b"%d:" % len(raw))
                h.update(raw)
            return self.prefix + h.hexdigest()

        def _load(self, key: str, raw: bytes | None) -> Any:
            if raw is None:
                return None
            try:
                return decode(raw)
            except Exception as e:  # an entry this LangChain cannot read is a miss, said aloud
                _warn(f"read the entry {key}", e)
                return None

        def lookup(self, prompt: str, llm_string: str) -> Any:
            key = self._key(prompt, llm_string)
            try:
                raw = self.backend.get(key)
            except Exception as e:
                _warn("read", e)
                return None
            return self._load(key, raw)

        def update(self, prompt: str, llm_string: str, return_val: Any) -> None:
            try:
                value = dumps(list(return_val)).encode()
                self.backend.set(self._key(prompt, llm_string), value, ttl=self.ttl)
            except Exception as e:
                _warn("write", e)

        def clear(self, **kwargs: Any) -> None:
            """Remove this namespace's entries; other namespaces sharing the backend keep theirs."""
            delete_prefix = getattr(self.backend, "delete_prefix", None)
            if delete_prefix is None:
                raise CacheBackendError(
                    f"{type(self.backend).__name__} has no delete_prefix(prefix), so clear() cannot "
                    "remove one namespace alone. Add that method, or clear the backend itself."
                )
            delete_prefix(self.prefix)

        async def alookup(self, prompt: str, llm_string: str) -> Any:
            key = self._key(prompt, llm_string)
            try:
                raw = await self.backend.aget(key)
            except Exception as e:
                _warn("read", e)
                return None
            return self._load(key, raw)

        async def aupdate(self, prompt: str, llm_string: str, return_val: Any) -> None:
            try:
                value = dumps(list(return_val)).encode()
                await self.backend.aset(self._key(prompt, llm_string), value, ttl=self.ttl)
            except Exception as e:
                _warn("write", e)

    return PromptCacheLangChainCache


def langchain_cache(backend: CacheBackend, *, namespace: str = "langchain", ttl: float | None = None) -> Any:
    """A ``langchain_core.caches.BaseCache`` storing into ``backend``.

    Use it as ``set_llm_cache(langchain_cache(SQLiteBackend()))``. ``namespace`` separates these
    entries from other tenants sharing the backend; ``clear()`` empties only this namespace.
    """
    return _adapter_class()(backend, namespace=namespace, ttl=ttl)
