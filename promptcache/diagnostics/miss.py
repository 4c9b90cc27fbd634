"""Why one call missed: the provider's own reason beside promptcache's block-level diff.

Two witnesses, kept side by side because they can disagree: the provider knows about evictions,
expiry and routing, which no request shows; promptcache's :func:`diff_requests` names the first
block that changed, which the provider's one-word reason does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptcache.diagnostics.diff import CacheDiff, diff_requests
from promptcache.errors import PromptCacheError
from promptcache.providers.diagnostics import ProviderReason, provider_reason

__all__ = ["MissReport", "miss_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MissReport:
    """One call that read less than it might have, explained twice."""

    #: What the provider said (``diagnostics=`` / ``comparison_response_id``), if asked and given.
    provider: ProviderReason | None
    #: promptcache's comparison of the previous request with this one (None: no previous one).
    diff: CacheDiff | None
    #: Tokens the plan expected to read (None: unplanned) and the tokens actually read.
    expected_read: int | None
    actual_read: int

    @property
    def reason(self) -> str:
        """One word for logs and spans: the provider's reason, else the diff's kind of change."""
        if self.provider is not None and self.provider.outcome != "hit":
            return self.provider.reason or self.provider.outcome
        if self.diff is not None and not self.diff.hit:
            return self.diff.change.kind
        return "read-below-expected"

    def __str__(self) -> str:
        server = str(self.provider) if self.provider is not None else "the provider gave no reason"
        ours = (self.diff.change.detail if self.diff is not None
                else "no previous request to compare with")
        expected = f"expected {self.expected_read:,}" if self.expected_read is not None else "unplanned"
        return f"cache miss (read {self.actual_read:,}, {expected}): {server}; promptcache: {ours}"


def miss_report(previous: Mapping[str, Any] | None, request: Mapping[str, Any], response: Any, *,
                actual_read: int, expected_read: int | None = None) -> MissReport:
    """Explain a call: ``previous`` and ``request`` are the keyword arguments of the last two
    calls as sent, ``response`` this call's (read for the provider's reason). Never raises on a
    request the diff cannot read: its half of the report is then None."""
    diff: CacheDiff | None = None
    if previous is not None:
        try:
            diff = diff_requests(previous, request)
        except (PromptCacheError, TypeError, ValueError, KeyError):
            diff = None
    return MissReport(provider=provider_reason(response), diff=diff, expected_read=expected_read,
                      actual_read=actual_read)
