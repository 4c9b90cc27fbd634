"""Gemini usage: ``usage_metadata`` from a response or stream chunk, SDK object or wire dict.

The SDK's objects dump to snake_case, the wire uses camelCase; both are read. The prompt count
includes ``cachedContentTokenCount``, which is subtracted so ``Usage.input_tokens`` is plain input.
Gemini charges no cache write per call; explicit caches are billed for storage (see
:meth:`promptcache.usage.Ledger.add_storage`). The Interactions API (implicit caching only)
reports ``usage.total_input_tokens`` / ``total_cached_tokens`` / ``total_output_tokens`` instead
(google-genai 3.6.1 ``_gaos/types/interactions/usage.py``); they are read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.providers._sdkjson import as_dict, number
from promptcache.usage import Usage

__all__ = ["usage_from_gemini"]


def _from_interaction(u: Mapping[str, Any], model: str) -> Usage:
    prompt = number(u, "total_input_tokens", "totalInputTokens")
    cached = number(u, "total_cached_tokens", "totalCachedTokens")
    output = number(u, "total_output_tokens", "totalOutputTokens") + number(
        u, "total_thought_tokens", "totalThoughtTokens")
    return Usage(provider="gemini", model=model, input_tokens=max(0, prompt - cached),
                 cache_read_tokens=cached, output_tokens=output)


_INTERACTION_KEYS = ("total_input_tokens", "totalInputTokens", "total_cached_tokens",
                     "totalCachedTokens")


def _from_metadata(u: Mapping[str, Any], model: str) -> Usage:
    if any(k in u for k in _INTERACTION_KEYS):
        return _from_interaction(u, model)
    prompt = number(u, "promptTokenCount", "prompt_token_count")
    cached = number(u, "cachedContentTokenCount", "cached_content_token_count")
    output = number(u, "candidatesTokenCount", "candidates_token_count") + number(
        u, "thoughtsTokenCount", "thoughts_token_count"
    )
    return Usage(
        provider="gemini",
        model=model,
        input_tokens=max(0, prompt - cached),
        cache_read_tokens=cached,
        output_tokens=output,
    )


def _metadata(d: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in ("usageMetadata", "usage_metadata"):
        if d.get(key):
            return as_dict(d[key])
    usage = as_dict(d.get("usage")) if d.get("usage") else {}
    if any(k in usage for k in _INTERACTION_KEYS):
        return usage  # an Interaction
    return None


def usage_from_gemini(response: Any, *, model: str | None = None) -> Usage:
    """Parse a ``GenerateContentResponse``, its usage metadata, a dict, or stream chunks.

    For a stream, the last chunk that carries usage metadata wins (it holds the final counts).
    """
    if (
        not isinstance(response, Mapping)
        and not hasattr(response, "model_dump")
        and isinstance(response, Iterable)
    ):
        found: Usage | None = None
        for chunk in response:
            found = usage_from_gemini(chunk, model=model) if _metadata(as_dict(chunk)) else found
        if found is None:
            raise PromptCacheError("No chunk in the stream carries usage metadata.")
        return found
    d = as_dict(response)
    name = model or str(d.get("modelVersion") or d.get("model_version") or d.get("model") or "")
    metadata = _metadata(d)
    return _from_metadata(metadata if metadata is not None else d, name)
