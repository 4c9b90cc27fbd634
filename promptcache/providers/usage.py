"""``parse_usage``: the usage of any provider's response, recognised from the object itself.

Each provider's parser lives in its adapter (``providers/<name>/usage.py``); the registry
(:mod:`promptcache.providers.registry`) tells them apart, so callers never say which provider a
response came from. An SDK object is recognised by the package its class comes from; a dict (or a
stream's events) by the fields only one provider uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.limits import Provider
from promptcache.providers.registry import spec_for_response, spec_named
from promptcache.usage import Usage

__all__ = ["detect_response_provider", "parse_usage"]

def detect_response_provider(response: Any) -> Provider | None:
    """Which provider ``response`` (an SDK object, a dict, or a list of stream events) came from."""
    spec = spec_for_response(response)
    return None if spec is None else spec.name


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
    parse: Any = spec_named(provider).parse_usage.load()
    usage: Usage = parse(response, model=model)
    return usage
