"""Why a cache missed, and what in a request defeats caching.

:func:`diff_requests` compares two requests (any provider's, or Prompts) as the provider's cache
sees them and says which block broke the shared prefix and what that cost. :func:`miss_report`
puts the provider's own reason (:func:`provider_reason`) beside it. :func:`lint_request`
and :func:`lint_trace` look for the usual causes before they cost anything.

What in a request, or in a recorded trace of requests, defeats prompt caching.

Caching mistakes do not fail: the request succeeds and only the bill shows that nothing was read.
Lint finds the usual causes before that: volatile values (timestamps, UUIDs, request ids, dates,
nonces) inside the cached prefix, markers the API rejects or ignores, tool lists and JSON keys
that shuffle between calls, cached content that changes on every call, and cache writes that
expire before anything reads them. Each :class:`LintFinding` names the block path, the rule id (see
:data:`RULES`) and the fix.

Single requests cannot show what changes between calls, so the trace rules need
:func:`lint_trace`, over ``(seconds, request)`` pairs as recorded (JSONL: ``{"t": ..., "request":
{...}}``, read by :func:`load_trace`).
"""

from __future__ import annotations

from promptcache._deprecated import renamed
from promptcache.diagnostics.diff import CacheDiff, Difference, diff_requests
from promptcache.diagnostics.lint_rules import RULES, SEVERITIES, LintFinding, Severity, lint_request
from promptcache.diagnostics.lint_trace import TraceEntry, TraceError, lint_trace, load_trace
from promptcache.diagnostics.miss import MissDiagnosis, miss_report
from promptcache.providers.diagnostics import ProviderReason, provider_reason

__all__ = [
    "RULES",
    "SEVERITIES",
    "CacheDiff",
    "Difference",
    "LintFinding",
    "MissDiagnosis",
    "ProviderReason",
    "Severity",
    "TraceEntry",
    "TraceError",
    "diff_requests",
    "lint_request",
    "lint_trace",
    "load_trace",
    "miss_report",
    "provider_reason",
]

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"Finding": "LintFinding", "MissReport": "MissDiagnosis"}, globals())
