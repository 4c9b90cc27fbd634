"""Anthropic: the Messages API renderer, request reading and validation, Bedrock and Vertex.

The most used names are also at the package root (``render_anthropic``, ``record_sent``,
``prompt_from_request``, ``validate``). The offline simulator and loopback server are in
:mod:`promptcache.simulator` and :mod:`promptcache.testing`.
"""

from __future__ import annotations

from promptcache._deprecated import renamed
from promptcache.providers.anthropic.platforms import PlatformName, render_anthropic_platform
from promptcache.providers.anthropic.render import (
    AnthropicPrefixCounter,
    MarkerFinding,
    ValidationReport,
    prompt_from_request,
    record_sent,
    render_anthropic,
    render_prefix,
    validate,
)
from promptcache.providers.anthropic.usage import AnthropicStreamUsage, usage_from_anthropic

__all__ = [
    "AnthropicPrefixCounter",
    "AnthropicStreamUsage",
    "MarkerFinding",
    "PlatformName",
    "ValidationReport",
    "prompt_from_request",
    "record_sent",
    "render_anthropic",
    "render_anthropic_platform",
    "render_prefix",
    "usage_from_anthropic",
    "validate",
]

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"Finding": "MarkerFinding"}, globals())
