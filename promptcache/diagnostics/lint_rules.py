"""Single-request lint rules: volatile content in the cached prefix, and the marker rules.

Split from :mod:`.trace` so the rules that need one request sit apart from the trace replay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.errors import UnknownModelError
from promptcache.limits import TTL_SECONDS, ModelLimits, Provider, limits_for
from promptcache.positions import CacheView, Position
from promptcache.providers.registry import view_of

__all__ = [
    "RULES",
    "SEVERITIES",
    "LintFinding",
    "Severity",
    "cached_prefix_end",
    "limits_or_none",
    "lint_request",
    "marker_findings",
    "volatile_findings",
]

Severity = Literal["info", "warning", "error"]
#: Severities from least to most serious (``--fail-on`` compares against this order).
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")

#: Every rule id, and what it catches.
RULES: Mapping[str, str] = {
    "volatile-content": "a timestamp, date, UUID, request id or nonce inside the cached prefix",
    "too-many-breakpoints": "more cache breakpoints than the model accepts (Anthropic: 4)",
    "ttl-order": "a 1h breakpoint after a 5m one (the API answers 400)",
    "unmarkable-block": "a marker on a thinking, redacted-thinking or empty block",
    "below-minimum": "a breakpoint whose prefix is below the model's minimum: it caches nothing",
    "no-breakpoint": "a request long enough to cache that carries no breakpoint: nothing is cached",
    "tool-order": "the same tools in a different order across calls",
    "key-order": "the same JSON object with its keys in a different order across calls",
    "tools-changed": "a tool definition that changes across calls (invalidates every level)",
    "changes-every-call": "a tools or system block that differs on every call although cached",
    "wasted-write": "a cache entry written and never read again before its TTL ran out",
}

@dataclass(frozen=True, slots=True, kw_only=True)
class LintFinding:
    """One thing that defeats caching, where it is, and what to do about it."""

    #: The block (``messages[0].content[2]``), parameter (``tools``) or file position.
    path: str
    #: A key of :data:`RULES`.
    rule: str
    severity: Severity
    #: A full sentence saying what is wrong and what it costs.
    message: str
    #: What to change.
    fix: str
    #: Index of the request in the trace (None for a single request).
    request: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rule": self.rule, "severity": self.severity,
                "message": self.message, "fix": self.fix, "request": self.request}


# -- volatile content --------------------------------------------------------------------------

_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")

#: ``(what, regex, anywhere)``: ``anywhere`` patterns are specific enough to flag in conversation
#: history too; the others (a bare date can be a fact the user asked about) only in tools/system.
_VOLATILE: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("a labelled timestamp or id", re.compile(
        r"(?i)\b(?:current (?:date|time)|today is|timestamp|now|generated at|request[ _-]?id|"
        r"session[ _-]?id|trace[ _-]?id|nonce)\s*[:=]\s*\S+"), True),
    ("a UUID", re.compile(
        r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), True),
    ("a request id", re.compile(
        r"\b(?:req|request|chatcmpl|resp|run|trace)[_-](?=[A-Za-z0-9]*\d)[A-Za-z0-9]{8,}\b"), True),
    ("an ISO timestamp", re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?"), False),
    ("a date", re.compile(
        rf"(?i)\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|"
        rf"(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|\d{{1,2}} (?:{_MONTHS}) \d{{4}})\b"),
     False),
    ("a clock time", re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b"), False),
    ("a Unix timestamp", re.compile(r"\b1[5-9]\d{8}(?:\d{3})?\b"), False),
    ("a random hex nonce", re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b"),
     False),
)
#: Keys whose strings are stable ids or binary data, never injected volatile text.
_SKIP_KEYS = frozenset({"data", "signature", "id", "tool_use_id", "media_type", "url",
                        "file_id", "call_id", "cache_control", "prompt_cache_breakpoint"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if k not in _SKIP_KEYS:
                yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _volatile(block: Position, anywhere_only: bool) -> tuple[str, str] | None:
    for text in _strings(block.payload):
        for what, pattern, anywhere in _VOLATILE:
            if anywhere_only and not anywhere:
                continue
            m = pattern.search(text)
            if m:
                return what, m.group(0)
    return None


def cached_prefix_end(flat: CacheView) -> tuple[int, str] | None:
    """Index one past the cached prefix, and what ends it; None when nothing is cached.

    Anthropic: the last breakpoint. OpenAI and Gemini cache every prefix implicitly, so the
    stable prefix is everything before the last turn's content.
    """
    if flat.provider == "anthropic":
        bps = flat.breakpoints()
        if not bps:
            return None
        i = bps[-1][0]
        where = "the request-level cache_control" if bps[-1][2] else "the breakpoint"
        return i + 1, f"{where} at {flat.blocks[i].path}"
    last_role_start = len(flat.blocks)
    for i in range(len(flat.blocks) - 1, -1, -1):
        if flat.blocks[i].level != "messages":
            break
        last_role_start = i
        if i and flat.blocks[i - 1].path.split(".")[0] != flat.blocks[i].path.split(".")[0]:
            break
    return last_role_start, "the final turn (everything before it is the cached prefix)"


def volatile_findings(flat: CacheView) -> list[LintFinding]:
    """``volatile-content``: one finding per block of the cached prefix holding a volatile value."""
    end = cached_prefix_end(flat)
    if end is None:
        return []
    stop, boundary = end
    out = []
    for block in flat.blocks[:stop]:
        hit = _volatile(block, anywhere_only=block.level == "messages")
        if hit is None:
            continue
        what, sample = hit
        out.append(LintFinding(
            path=block.path, rule="volatile-content", severity="warning",
            message=(f"{block.path}: {what} ({sample[:60]!r}) sits inside the cached prefix, before "
                     f"{boundary}. If it changes per call, every call writes a new cache entry "
                     "and none is read."),
            fix=("Move the volatile value after the last breakpoint (into the final user turn), "
                 "round it (a date instead of a time), or drop it; keep the prefix "
                 "byte-identical across calls."),
        ))
    return out


# -- marker rules ------------------------------------------------------------------------------


def limits_or_none(flat: CacheView, limits: ModelLimits | None) -> ModelLimits | None:
    """The given limits, else the model's row; None for an unknown model (its checks are skipped)."""
    if limits is not None:
        return limits
    try:
        return limits_for(flat.model, provider=flat.provider)
    except UnknownModelError:
        return None


def marker_findings(flat: CacheView, lim: ModelLimits | None) -> list[LintFinding]:
    """The marker rules, every violation at once (``validate`` stops at the first 400)."""
    out: list[LintFinding] = []
    bps = flat.breakpoints()

    def where(i: int, automatic: bool) -> str:
        return "cache_control (request level)" if automatic else flat.blocks[i].path

    maximum = lim.max_breakpoints if lim is not None and lim.explicit_breakpoints else (
        4 if flat.provider == "anthropic" else None)
    if maximum is not None and len(bps) > maximum:
        paths = ", ".join(where(i, a) for i, _, a in bps)
        out.append(LintFinding(
            path=where(bps[maximum][0], bps[maximum][2]), rule="too-many-breakpoints",
            severity="error",
            message=(f"{len(bps)} cache breakpoints ({paths}); {flat.model} accepts at most "
                     f"{maximum}, the request-level cache_control included. The API answers 400."),
            fix=("Keep one breakpoint per layer that changes at its own pace (tools, system, "
                 "documents, conversation), or let promptcache.optimize place them."),
        ))
    shortest: tuple[int, str, bool] | None = None
    for bp in bps:
        i, ttl, automatic = bp
        if shortest is not None and TTL_SECONDS.get(ttl, 0) > TTL_SECONDS.get(shortest[1], 0):
            out.append(LintFinding(
                path=where(i, automatic), rule="ttl-order", severity="error",
                message=(f"{where(i, automatic)}: a {ttl} breakpoint after the {shortest[1]} one at "
                         f"{where(shortest[0], shortest[2])}. Longer TTLs must come first; the API "
                         "answers 400."),
                fix=f"Give {where(i, automatic)} the shorter TTL, or make the earlier one {ttl}.",
            ))
        if shortest is None or TTL_SECONDS.get(ttl, 0) < TTL_SECONDS.get(shortest[1], 0):
            shortest = bp
    for i, _, automatic in bps:
        block = flat.blocks[i]
        if block.unmarkable and not automatic:
            out.append(LintFinding(
                path=block.path, rule="unmarkable-block", severity="error",
                message=f"{block.path}: {block.unmarkable}; the API rejects the request.",
                fix=("Put the marker on the next text, tool_use or tool_result block; thinking "
                     "blocks are cached as part of the turn around them."),
            ))
    if not bps and flat.provider == "anthropic" and lim is not None \
            and flat.total_tokens >= lim.min_cacheable_tokens:
        out.append(LintFinding(
            path="<request>", rule="no-breakpoint", severity="warning",
            message=(f"The request is about {flat.total_tokens:,} tokens (the minimum to cache on "
                     f"{flat.model} is {lim.min_cacheable_tokens:,}) but carries no cache_control: "
                     "Anthropic caches nothing without one, so every call pays the full input "
                     "price."),
            fix=("Set cache_control on the last block that stays the same across calls (the last "
                 "system block, or the conversation's last turn), add the request-level "
                 "cache_control, or let promptcache.optimize place the breakpoints."),
        ))
    if lim is not None:
        for i, _, automatic in bps:
            tokens = flat.prefix_tokens[i]
            if lim.clear_probability(tokens) <= 0.0:  # even as the provider's tokenizer counts
                p = where(i, automatic)
                out.append(LintFinding(
                    path=p, rule="below-minimum", severity="warning",
                    message=(f"{p}: the prefix up to this breakpoint is about {tokens:,} tokens, "
                             f"below {flat.model}'s minimum of {lim.min_cacheable_tokens:,}; it "
                             "caches nothing (no error, both cache counters 0)."),
                    fix="Move the marker to a later block so the prefix reaches the minimum, "
                        "or drop it and free the slot.",
                ))
    return out


def lint_request(request: Mapping[str, Any], *, provider: Provider | None = None,
                 limits: ModelLimits | None = None) -> list[LintFinding]:
    """Every single-request finding: volatile prefix content and marker rules.

    Unlike :func:`promptcache.validate` this never raises on a rule the API would reject: lint
    reports all of them at once. Raises PromptError (naming the path) when the request is
    malformed. ``limits`` overrides the model's row in promptcache.limits.
    """
    flat = view_of(request, provider=provider)
    lim = limits_or_none(flat, limits)
    findings = marker_findings(flat, lim) + volatile_findings(flat)
    return sorted(findings, key=lambda f: -SEVERITIES.index(f.severity))


