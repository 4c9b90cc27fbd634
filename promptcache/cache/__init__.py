"""The exact-match response cache: backends, client wrappers and the warm-prefix registry.

Redis and LangChain support import their dependencies only when used.
"""

from __future__ import annotations

from .base import (
    CacheBackend,
    CacheUnavailableWarning,
    LocalBackend,
    get_response_cache,
    set_response_cache,
)
from .keys import CachePolicy, request_key
from .memory import MemoryBackend
from .redis import RedisBackend
from .registry import InProcessRegistry, RedisRegistry, WarmEntry, WarmPrefixRegistry
from .sqlite import SQLiteBackend
from .streams import AsyncCachedStream, CachedStream
from .wrappers import cache_client, uncache_client

__all__ = [
    "AsyncCachedStream",
    "CacheBackend",
    "CachePolicy",
    "CacheUnavailableWarning",
    "CachedStream",
    "InProcessRegistry",
    "LocalBackend",
    "MemoryBackend",
    "RedisBackend",
    "RedisRegistry",
    "SQLiteBackend",
    "WarmEntry",
    "WarmPrefixRegistry",
    "cache_client",
    "get_response_cache",
    "request_key",
    "set_response_cache",
    "uncache_client",
]
