"""Why one call missed: the provider's own reason beside promptcache's block-level diff.

Two witnesses, kept side by side because they can disagree: the provider knows about evictions,
expiry and routing, which no request shows; promptcache names the first block that changed, which
the provider's one-word reason does not. The block is found from the two Prompts' prefix
fingerprints (already computed, so a miss costs a comparison of two tuples); the full
:func:`diff_requests` of the two requests, which reads both again, is computed only when
:attr:`MissDiagnosis.diff` is first asked for.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptcache.diagnostics.diff import CacheDiff, diff_requests
from promptcache.errors import PromptCacheError
from promptcache.prompt import Prompt
from promptcache.providers.diagnostics import ProviderReason, provider_reason
from promptcache.sdk import plain

__all__ = ["MissDiagnosis", "miss_report"]


@dataclass(frozen=True, kw_only=True)
class MissDiagnosis:
    """One call that read less than it might have, explained twice."""

    #: What the provider said (``diagnostics=`` / ``comparison_response_id``), if asked and given.
    provider: ProviderReason | None
    #: Tokens the plan expected to read (None: unplanned) and the tokens actually read.
    expected_read: int | None
    actual_read: int
    #: The first block whose prefix differs from the previous request's, and its layer (None:
    #: nothing before this request's new content changed, or no Prompt to compare).
    changed_path: str | None = None
    changed_layer: str | None = None
    #: The two requests' keyword arguments, for :attr:`diff` (None: no previous request).
    previous: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    request: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def diff(self) -> CacheDiff | None:
        """promptcache's :func:`diff_requests` of the previous request and this one (computed on
        first use; None when there is no previous request or the two cannot be compared)."""
        if self.previous is None or self.request is None:
            return None
        try:
            return diff_requests(_plain(self.previous), _plain(self.request))
        except (PromptCacheError, TypeError, ValueError, KeyError):
            return None

    @property
    def reason(self) -> str:
        """One word for logs, spans and the ledger: the provider's reason, else the changed
        layer's, else ``read-below-expected`` (expired, evicted or not yet readable)."""
        if self.provider is not None and self.provider.outcome != "hit":
            return self.provider.reason or self.provider.outcome
        if self.changed_layer is not None:
            return f"{self.changed_layer}-changed"
        return "read-below-expected"

    def __str__(self) -> str:
        server = str(self.provider) if self.provider is not None else "the provider gave no reason"
        if self.changed_path is not None:
            ours = f"first change at {self.changed_path} (layer {self.changed_layer!r})"
        elif self.previous is None:
            ours = "no previous request to compare with"
        else:
            ours = "nothing before the new content changed (expired, evicted, or not yet readable)"
        expected = f"expected {self.expected_read:,}" if self.expected_read is not None else "unplanned"
        return f"cache miss (read {self.actual_read:,}, {expected}): {server}; promptcache: {ours}"


def _first_difference(before: Prompt, after: Prompt) -> int | None:
    """The first block whose prefix fingerprint differs, by bisection: a fingerprint is of the
    whole prefix (a hash chain), so once two differ every later pair differs too, and a long
    conversation's miss costs O(log blocks), not a pass over its history."""
    a, b = before.fingerprints, after.fingerprints
    n = min(len(a), len(b))
    i = bisect.bisect_left(range(n), True, key=lambda k: a[k] != b[k])
    return i if i < n else None


def miss_report(previous: Mapping[str, Any] | None, request: Mapping[str, Any], response: Any, *,
                actual_read: int, expected_read: int | None = None,
                previous_prompt: Prompt | None = None, prompt: Prompt | None = None) -> MissDiagnosis:
    """Explain a call: ``previous`` and ``request`` are the keyword arguments of the last two
    calls as sent, ``response`` this call's (read for the provider's reason); with their Prompts,
    the first changed block is named at once. Never raises."""
    path = layer = None
    if previous_prompt is not None and prompt is not None:
        index = _first_difference(previous_prompt, prompt)
        if index is not None and index < len(prompt.blocks):
            path, layer = prompt.blocks[index].path, prompt.blocks[index].layer
    return MissDiagnosis(provider=provider_reason(response), expected_read=expected_read,
                      actual_read=actual_read, changed_path=path, changed_layer=layer,
                      previous=previous, request=request)


#: Keyword arguments that travel with a request but are not what the cache sees.
_TRANSPORT = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})


def _plain(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request as JSON data: SDK objects (a ``Message``'s content sent back) as dicts, the
    SDKs' not-given sentinels and transport options left out."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _TRANSPORT or type(value).__name__ in ("NotGiven", "Omit"):
            continue
        out[key] = plain(value, key)
    return out
