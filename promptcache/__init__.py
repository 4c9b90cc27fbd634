"""promptcache: automatic, correct and measurably cheaper LLM prompt caching.

The pipeline, in one direction::

    PromptBuilder --build--> Prompt --optimize--> Plan --render_anthropic--> client.messages.create
"""

from .blocks import Block, Document, Example, Layer, Prompt, Reuse, Turn, Volatility
from .builder import PromptBuilder
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

__version__ = "0.1.0"

__all__ = [
    "Block",
    "CacheBackendError",
    "CacheEntry",
    "CacheState",
    "CacheWarning",
    "Clock",
    "CostEstimate",
    "Document",
    "Example",
    "Layer",
    "LayerSummary",
    "ManualClock",
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
    "Rejection",
    "Reuse",
    "RuleViolation",
    "TiktokenCounter",
    "TokenCounter",
    "TooManyBreakpointsError",
    "Turn",
    "UnknownModelError",
    "ValidationReport",
    "Volatility",
    "WallClock",
    "__version__",
    "limits_for",
    "optimize",
    "prompt_from_request",
    "record_sent",
    "render_anthropic",
    "validate",
]
