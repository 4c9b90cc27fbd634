"""OpenAI: chat completions and responses from the same Prompt, with a stable prefix first.

:func:`render_openai_chat` and :func:`render_openai_responses` order the stable layers first,
derive ``prompt_cache_key`` from the shared prefix, choose the retention from the reuse gaps, and
on GPT-5.6+ place ``prompt_cache_breakpoint`` markers with the same optimizer as Anthropic.
"""

from __future__ import annotations

from promptcache.providers.common import ProviderPlan, Rendered
from promptcache.providers.openai.render import (
    IN_MEMORY_WINDOW,
    render_openai_chat,
    render_openai_responses,
)
from promptcache.providers.openai.usage import usage_from_openai
from promptcache.providers.usage import parse_usage

__all__ = [
    "IN_MEMORY_WINDOW",
    "ProviderPlan",
    "Rendered",
    "parse_usage",
    "render_openai_chat",
    "render_openai_responses",
    "usage_from_openai",
]
