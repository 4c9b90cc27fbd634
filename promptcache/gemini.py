"""Gemini: ``generate_content`` with an explicit ``cachedContents`` resource when it pays.

:func:`decide` weighs the explicit cache's storage against what it saves over implicit caching;
:class:`GeminiCacheManager` (and its async twin) finds, creates, extends and deletes the cache
resource; :func:`render_gemini` and :func:`render_gemini_openai_compatible` render the request.
"""

from __future__ import annotations

from promptcache.providers.common import ProviderPlan, Rendered
from promptcache.providers.gemini.cache import (
    AsyncGeminiCacheManager,
    GeminiCacheManager,
    display_name_for,
)
from promptcache.providers.gemini.render import (
    CacheDecision,
    CachedPrefix,
    GeminiSplit,
    decide,
    render_gemini,
    render_gemini_openai_compatible,
    split,
)
from promptcache.providers.gemini.usage import usage_from_gemini
from promptcache.providers.usage import parse_usage

__all__ = [
    "AsyncGeminiCacheManager",
    "CacheDecision",
    "CachedPrefix",
    "GeminiCacheManager",
    "GeminiSplit",
    "ProviderPlan",
    "Rendered",
    "decide",
    "display_name_for",
    "parse_usage",
    "render_gemini",
    "render_gemini_openai_compatible",
    "split",
    "usage_from_gemini",
]
