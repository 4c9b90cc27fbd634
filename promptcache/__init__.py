"""promptcache: automatic, correct and measurably cheaper LLM prompt caching.

The pipeline, in one direction::

    PromptBuilder --build--> Prompt --optimize--> Plan --render_anthropic--> client.messages.create
                                                                  response --parse_usage--> Usage

This module holds what the five-minute guide imports. Everything else lives in documented
submodules: :mod:`promptcache.openai` and :mod:`promptcache.gemini` (their renderers),
:mod:`promptcache.anthropic` (Bedrock/Vertex, exact counts), :mod:`promptcache.cache` (the
response cache), :mod:`promptcache.warmup`, :mod:`promptcache.session`,
:mod:`promptcache.diagnostics` (diff and lint), :mod:`promptcache.simulator`,
:mod:`promptcache.testing`, :mod:`promptcache.limits`, :mod:`promptcache.usage`,
:mod:`promptcache.errors`.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from promptcache.blocks import Document, Example, Reuse, Volatility
from promptcache.builder import PromptBuilder
from promptcache.diagnostics.diff import diff_requests
from promptcache.errors import (
    CacheWarning,
    DroppedContentWarning,
    PromptCacheError,
    PromptError,
    RuleViolation,
)
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import (
    prompt_from_request,
    record_sent,
    render_anthropic,
    validate,
)
from promptcache.providers.usage import parse_usage
from promptcache.state import CacheState
from promptcache.usage import Ledger, Usage

if _TYPE_CHECKING:
    from promptcache.dropin import wrap
    from promptcache.session import AsyncChatSession, ChatSession

#: Loaded on first use: the drop-in layer and the chat sessions bring the response cache
#: (pydantic, asyncio, the SDK codecs), most of ``import promptcache``'s time, which every
#: ``promptcache`` command and every user of the planner alone would otherwise pay.
_LAZY = {"wrap": "promptcache.dropin", "ChatSession": "promptcache.session",
         "AsyncChatSession": "promptcache.session"}

__version__ = "0.2.0"

__all__ = [
    "AsyncChatSession",
    "CacheState",
    "CacheWarning",
    "ChatSession",
    "Document",
    "DroppedContentWarning",
    "Example",
    "Ledger",
    "Plan",
    "Prompt",
    "PromptBuilder",
    "PromptCacheError",
    "PromptError",
    "Reuse",
    "RuleViolation",
    "Usage",
    "Volatility",
    "diff_requests",
    "optimize",
    "parse_usage",
    "prompt_from_request",
    "record_sent",
    "render_anthropic",
    "validate",
    "wrap",
]



def __getattr__(name: str) -> _Any:
    """The names in :data:`_LAZY`, imported the first time they are asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptcache' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
