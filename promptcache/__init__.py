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
from .diff import CacheDiff, diff_requests
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
from .lint import Finding as LintFinding
from .lint import lint_request, lint_trace
from .optimizer import optimize
from .plan import CostEstimate, LayerSummary, Placement, Plan, Rejection
from .providers.anthropic import ValidationReport, prompt_from_request, validate
from .providers.anthropic import record as record_sent
from .providers.anthropic import render as render_anthropic
from .providers.anthropic_platforms import render_platform as render_anthropic_platform
from .providers.gemini import render_generate_content as render_gemini
from .providers.gemini import render_openai_compatible as render_gemini_openai_compatible
from .providers.gemini_cache import AsyncGeminiCacheManager, GeminiCacheManager
from .providers.openai import render_chat as render_openai_chat
from .providers.openai import render_responses as render_openai_responses
from .providers.provider_plan import ProviderPlan
from .session import AsyncChatSession, ChatSession, SessionStats
from .state import CacheEntry, CacheState
from .tokens import PrefixCounter, TiktokenCounter, TokenCounter
from .usage import Cost, Ledger, Usage, UsageTotals, cost_of, parse_usage
from .warmup import WarmupResult, warm_up, warm_up_batch, warm_up_gemini, warm_up_sync

__version__ = "0.1.0"

__all__ = [
    "AsyncChatSession",
    "AsyncGeminiCacheManager",
    "Block",
    "CacheBackend",
    "CacheBackendError",
    "CacheDiff",
    "CacheEntry",
    "CacheState",
    "CacheUnavailableWarning",
    "CacheWarning",
    "ChatSession",
    "Clock",
    "Cost",
    "CostEstimate",
    "Document",
    "Example",
    "GeminiCacheManager",
    "InProcessRegistry",
    "Layer",
    "LayerSummary",
    "Ledger",
    "LintFinding",
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
    "ProviderPlan",
    "RedisBackend",
    "RedisRegistry",
    "Rejection",
    "Reuse",
    "RuleViolation",
    "SQLiteBackend",
    "SessionStats",
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
    "WarmupResult",
    "__version__",
    "cache_client",
    "cost_of",
    "diff_requests",
    "get_response_cache",
    "limits_for",
    "lint_request",
    "lint_trace",
    "optimize",
    "parse_usage",
    "prompt_from_request",
    "record_sent",
    "render_anthropic",
    "render_anthropic_platform",
    "render_gemini",
    "render_gemini_openai_compatible",
    "render_openai_chat",
    "render_openai_responses",
    "set_response_cache",
    "uncache_client",
    "validate",
    "warm_up",
    "warm_up_batch",
    "warm_up_gemini",
    "warm_up_sync",
]
