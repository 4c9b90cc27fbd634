"""``parse_usage``: the usage of any provider's response, recognised from the object itself.

Each provider's parser lives in its adapter (``providers/<name>/usage.py``); this module only
tells them apart, so callers never say which provider a response came from. An SDK object is
recognised by the package its class comes from; a dict (or a stream's events) by the fields only
one provider uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.limits import Provider
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.anthropic.usage import usage_from_anthropic
from promptcache.providers.gemini.usage import usage_from_gemini
from promptcache.providers.openai.usage import usage_from_openai
from promptcache.usage import Usage

__all__ = ["detect_response_provider", "parse_usage"]

_BY_PACKAGE: Mapping[str, Provider] = {"anthropic": "anthropic", "openai": "openai",
                                       "google": "gemini"}
_GEMINI_KEYS = frozenset({"usageMetadata", "usage_metadata", "promptTokenCount",
                          "prompt_token_count", "cachedContentTokenCount", "candidates",
                          "total_cached_tokens"})
_OPENAI_KEYS = frozenset({"prompt_tokens", "prompt_tokens_details", "input_tokens_details",
                          "choices", "object", "output"})
_ANTHROPIC_KEYS = frozenset({"cache_creation_input_tokens", "cache_read_input_tokens",
                             "cache_creation", "stop_reason", "content"})


def _from_fields(d: Mapping[str, Any]) -> Provider | None:
    keys = set(d)
    if keys & _GEMINI_KEYS:
        return "gemini"
    usage = as_dict(d.get("usage"))
    if "total_cached_tokens" in usage:  # Gemini's Interactions API
        return "gemini"
    inner = keys | set(usage)
    if inner & _ANTHROPIC_KEYS or str(d.get("type", "")).startswith(("message", "content_block")):
        return "anthropic"
    if inner & _OPENAI_KEYS or str(d.get("type", "")).startswith("response."):
        return "openai"
    return None


def detect_response_provider(response: Any) -> Provider | None:
    """Which provider ``response`` (an SDK object, a dict, or a list of stream events) came from."""
    package = type(response).__module__.split(".", 1)[0]
    if package in _BY_PACKAGE:
        return _BY_PACKAGE[package]
    if isinstance(response, Mapping):
        return _from_fields(response)
    if hasattr(response, "model_dump"):
        return _from_fields(as_dict(response))
    if isinstance(response, list | tuple):
        for item in response:
            found = detect_response_provider(item)
            if found is not None:
                return found
    return None


def parse_usage(response: Any, *, provider: Provider | None = None,
                model: str | None = None) -> Usage:
    """The :class:`~promptcache.usage.Usage` of a response, a usage object, a dict or a stream.

    The provider is recognised from ``response`` itself; pass ``provider`` only for a bare dict
    that carries no field peculiar to one provider. ``model`` fills in the model when the object
    does not carry it (a bare usage object). Streams: pass the list of events or chunks.
    """
    if provider is None:
        if isinstance(response, Iterable) and not isinstance(response, Mapping | str | bytes) \
                and not hasattr(response, "model_dump"):
            response = list(response)  # a one-shot iterator: detect on a copy
        provider = detect_response_provider(response)
        if provider is None:
            raise PromptCacheError(
                f"Cannot tell which provider this {type(response).__name__} comes from; pass "
                "provider='anthropic', 'openai' or 'gemini'.")
    if provider == "anthropic":
        return usage_from_anthropic(response, model=model)
    if provider == "openai":
        return usage_from_openai(response, model=model)
    return usage_from_gemini(response, model=model)
