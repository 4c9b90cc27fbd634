"""promptcache: automatic, correct and measurably cheaper LLM prompt caching."""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "CacheBackendError",
    "CacheWarning",
    "MissingDependencyError",
    "ModelLimits",
    "PromptCacheError",
    "PromptError",
    "ProviderError",
    "RuleViolation",
    "TooManyBreakpointsError",
    "UnknownModelError",
    "__version__",
    "limits_for",
]
