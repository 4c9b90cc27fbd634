"""promptcache: automatic, correct and measurably cheaper LLM prompt caching.

The pipeline, in one direction::

    PromptBuilder --build--> Prompt --optimize--> Plan --render_anthropic--> client.messages.create
"""

from .blocks import Block, Document, Example, Layer, Prompt, Reuse, Turn, Volatility
from .builder import PromptBuilder
from .cache import (
    CacheBackend,
    CacheUnavailableWarning,
    InProcessRegistry,
    MemoryBackend,
    RedisBackend,
    RedisRegistry,
    SQLiteBackend,
    WarmEntry,
    cache_client,
    get_response_cache,
    set_response_cache,
    uncache_client,
)
from .clock import Clock, ManualClock, WallClock
from .errors import (
    CacheBackendError,
    CacheWarning,
    MissingDependencyError,
    PromptCacheError,
    PromptError,
    ProviderError,
    RuleViolation,
    TooManyBreakpointsError,
    UnknownModelError,
)
from .limits import ModelLimits, limits_for
from .optimizer import optimize
from .plan import CostEstimate, LayerSummary, Placement, Plan, Rejection
from .providers.anthropic import ValidationReport, prompt_from_request, validate
from .providers.anthropic import record as record_sent
from .providers.anthropic import render as render_anthropic
from .state import CacheEntry, CacheState
from .tokens import PrefixCounter, TiktokenCounter, TokenCounter
from .usage import Cost, Ledger, Usage, UsageTotals, cost_of, parse_usage

__version__ = "0.1.0"

__all__ = [
    "Block",
    "CacheBackend",
    "CacheBackendError",
    "CacheEntry",
    "CacheState",
    "CacheUnavailableWarning",
    "CacheWarning",
    "Clock",
    "Cost",
    "CostEstimate",
    "Document",
    "Example",
    "InProcessRegistry",
    "Layer",
    "LayerSummary",
    "Ledger",
    "ManualClock",
    "MemoryBackend",
    "MissingDependencyError",
    "ModelLimits",
    "Placement",
    "Plan",
    "PrefixCounter",
    "Prompt",
    "PromptBuilder",
    "PromptCacheError",
    "PromptError",
    "ProviderError",
    "RedisBackend",
    "RedisRegistry",
    "Rejection",
    "Reuse",
    "RuleViolation",
    "SQLiteBackend",
    "TiktokenCounter",
    "TokenCounter",
    "TooManyBreakpointsError",
    "Turn",
    "UnknownModelError",
    "Usage",
    "UsageTotals",
    "ValidationReport",
    "Volatility",
    "WallClock",
    "WarmEntry",
    "__version__",
    "cache_client",
    "cost_of",
    "get_response_cache",
    "limits_for",
    "optimize",
    "parse_usage",
    "prompt_from_request",
    "record_sent",
    "render_anthropic",
    "set_response_cache",
    "uncache_client",
    "validate",
]
