"""The exceptions promptcache raises, and the warning it emits.

Hierarchy::

    PromptCacheError                 base of everything promptcache raises
    ├── UnknownModelError            no limits or prices are known for a model
    ├── PromptError                  a part given to PromptBuilder is malformed
    │   └── TraceError               a recorded trace (JSONL) is malformed; names the line
    ├── RuleViolation                a request breaks a provider's caching rule (it would get a 400)
    │   └── TooManyBreakpointsError  more than the provider's maximum of cache breakpoints
    ├── ProviderError                a provider SDK failed; the SDK's exception is the __cause__
    ├── MissingDependencyError       an optional extra is not installed
    └── CacheBackendError            a response-cache backend cannot be used

    CacheWarning (a UserWarning)     the request is valid, but a marker cannot take effect
    └── DroppedContentWarning        a renderer left out content the provider cannot take

Every message is a full sentence that names the block (``messages[3].content[1]``), the rule
and the fix, because a caching mistake is otherwise silent: it only shows on the bill.
"""

from __future__ import annotations

__all__ = [
    "CacheBackendError",
    "CacheWarning",
    "DroppedContentWarning",
    "MissingDependencyError",
    "PromptCacheError",
    "PromptError",
    "ProviderError",
    "RuleViolation",
    "TooManyBreakpointsError",
    "TraceError",
    "UnknownModelError",
]


class PromptCacheError(Exception):
    """Base class of every exception promptcache raises."""


class UnknownModelError(PromptCacheError, LookupError):
    """No caching limits or prices are known for the model.

    Pass explicit limits (``limits=ModelLimits(...)``) or add the model to
    ``promptcache.limits``.
    """


class PromptError(PromptCacheError, ValueError):
    """A part handed to PromptBuilder (or a hand-written request) is malformed."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TraceError(PromptError):
    """A trace file or trace record is malformed; the message names the line.

    Defined here, not with the workloads that write traces, because ``lint`` and ``simulate``
    read traces too and must not depend on the demo machinery.
    """


class RuleViolation(PromptCacheError, ValueError):
    """The request breaks a provider rule: sending it would get an HTTP 400.

    ``path`` is where in the request (``messages[3].content[1]``) and ``rule`` a short
    identifier of the rule (``max-breakpoints``, ``ttl-order``, ``uncacheable-block``...).
    """

    def __init__(self, message: str, *, path: str | None = None, rule: str) -> None:
        super().__init__(message)
        self.path = path
        self.rule = rule


class TooManyBreakpointsError(RuleViolation):
    """More ``cache_control`` breakpoints than the provider accepts."""


class ProviderError(PromptCacheError):
    """A provider SDK call failed; the original exception is chained as ``__cause__``."""


class MissingDependencyError(PromptCacheError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class CacheBackendError(PromptCacheError):
    """A response-cache backend is unusable (corrupt file, wrong schema, unreachable)."""


class CacheWarning(UserWarning):
    """The request is valid but a cache marker in it cannot take effect, or costs more than it saves.

    Emitted (not raised) where the provider would accept the request: a breakpoint whose prefix is
    below the model's minimum, one beyond the 20-block lookback of any later breakpoint, ...
    """

    def __init__(self, message: str, *, path: str | None = None, rule: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.rule = rule


class DroppedContentWarning(CacheWarning):
    """A renderer left out of the request content the provider has no form for.

    Emitted by the OpenAI and Gemini renderers when ``plan.dropped`` is not empty: thinking blocks,
    citations, server tools, parameters with no equivalent. ``dropped`` holds every entry of the
    render call (each ``"<path>: <what was not sent, and why>"``), ``path`` the first one's path,
    ``provider`` and ``api`` the request's. One warning per render call, not one per entry: a
    conversation carrying twenty thinking blocks is one event, and the message lists the entries.

    A :class:`CacheWarning`, so ``category=CacheWarning`` filters every warning promptcache emits;
    to keep this one while silencing the others, add a filter for it after theirs
    (``warnings.filterwarnings("default", category=DroppedContentWarning)``).
    """

    def __init__(self, message: str, *, provider: str = "", api: str = "",
                 dropped: tuple[str, ...] = ()) -> None:
        path = dropped[0].partition(": ")[0] if dropped else None
        super().__init__(message, path=path, rule="dropped-content")
        self.provider = provider
        self.api = api
        self.dropped = dropped
