"""What in a request, or in a recorded trace of requests, defeats prompt caching.

Caching mistakes do not fail: the request succeeds and only the bill shows that nothing was read.
Lint finds the usual causes before that: volatile values (timestamps, UUIDs, request ids, dates,
nonces) inside the cached prefix, markers the API rejects or ignores, tool lists and JSON keys
that shuffle between calls, cached content that changes on every call, and cache writes that
expire before anything reads them. Each :class:`Finding` names the block path, the rule id (see
:data:`RULES`) and the fix.

Single requests cannot show what changes between calls, so the trace rules need
:func:`lint_trace`, over ``(seconds, request)`` pairs as recorded (JSONL: ``{"t": ..., "request":
{...}}``, read by :func:`load_trace`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import PromptError, UnknownModelError
from .flatten import FlatBlock, FlatRequest, flatten_request
from .limits import TTL_SECONDS, ModelLimits, Provider, limits_for
from .workloads import TraceError

__all__ = [
    "RULES",
    "SEVERITIES",
    "Finding",
    "Severity",
    "TraceEntry",
    "TraceError",
    "lint_request",
    "lint_trace",
    "load_trace",
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
    "tool-order": "the same tools in a different order across calls",
    "key-order": "the same JSON object with its keys in a different order across calls",
    "tools-changed": "a tool definition that changes across calls (invalidates every level)",
    "changes-every-call": "a tools or system block that differs on every call although cached",
    "wasted-write": "a cache entry written and never read again before its TTL ran out",
}

#: How long an entry lives when the request does not say (OpenAI in-memory retention: 5-10 min).
_DEFAULT_TTL: Mapping[Provider, str] = {"anthropic": "5m", "openai": "30m", "gemini": "5m"}
_LOOKBACK = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEntry:
    """One recorded request: when it was sent (seconds, any origin) and its keyword arguments."""

    t: float
    request: Mapping[str, Any]


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


def _volatile(block: FlatBlock, anywhere_only: bool) -> tuple[str, str] | None:
    for text in _strings(block.payload):
        for what, pattern, anywhere in _VOLATILE:
            if anywhere_only and not anywhere:
                continue
            m = pattern.search(text)
            if m:
                return what, m.group(0)
    return None


def _stable_end(flat: FlatRequest) -> tuple[int, str] | None:
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


def _volatile_findings(flat: FlatRequest) -> list[Finding]:
    end = _stable_end(flat)
    if end is None:
        return []
    stop, boundary = end
    out = []
    for block in flat.blocks[:stop]:
        hit = _volatile(block, anywhere_only=block.level == "messages")
        if hit is None:
            continue
        what, sample = hit
        out.append(Finding(
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


def _limits(flat: FlatRequest, limits: ModelLimits | None) -> ModelLimits | None:
    if limits is not None:
        return limits
    try:
        return limits_for(flat.model, provider=flat.provider)
    except UnknownModelError:
        return None


def _marker_findings(flat: FlatRequest, lim: ModelLimits | None) -> list[Finding]:
    out: list[Finding] = []
    bps = flat.breakpoints()

    def where(i: int, automatic: bool) -> str:
        return "cache_control (request level)" if automatic else flat.blocks[i].path

    maximum = lim.max_breakpoints if lim is not None and lim.explicit_breakpoints else (
        4 if flat.provider == "anthropic" else None)
    if maximum is not None and len(bps) > maximum:
        paths = ", ".join(where(i, a) for i, _, a in bps)
        out.append(Finding(
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
            out.append(Finding(
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
            out.append(Finding(
                path=block.path, rule="unmarkable-block", severity="error",
                message=f"{block.path}: {block.unmarkable}; the API rejects the request.",
                fix=("Put the marker on the next text, tool_use or tool_result block; thinking "
                     "blocks are cached as part of the turn around them."),
            ))
    if lim is not None:
        for i, _, automatic in bps:
            tokens = flat.prefix_tokens[i]
            if tokens < lim.min_cacheable_tokens:
                p = where(i, automatic)
                out.append(Finding(
                    path=p, rule="below-minimum", severity="warning",
                    message=(f"{p}: the prefix up to this breakpoint is about {tokens:,} tokens, "
                             f"below {flat.model}'s minimum of {lim.min_cacheable_tokens:,}; it "
                             "caches nothing (no error, both cache counters 0)."),
                    fix="Move the marker to a later block so the prefix reaches the minimum, "
                        "or drop it and free the slot.",
                ))
    return out


def lint_request(request: Mapping[str, Any], *, provider: Provider | None = None,
                 limits: ModelLimits | None = None) -> list[Finding]:
    """Every single-request finding: volatile prefix content and marker rules.

    Unlike :func:`promptcache.validate` this never raises on a rule the API would reject: lint
    reports all of them at once. Raises PromptError (naming the path) when the request is
    malformed. ``limits`` overrides the model's row in promptcache.limits.
    """
    flat = flatten_request(request, provider=provider)
    lim = _limits(flat, limits)
    findings = _marker_findings(flat, lim) + _volatile_findings(flat)
    return sorted(findings, key=lambda f: -SEVERITIES.index(f.severity))


# -- trace rules -------------------------------------------------------------------------------


TraceInput = Iterable[Any]


def _entries(trace: Any) -> list[TraceEntry]:
    """The trace as TraceEntry items sorted by time (stable).

    Accepts TraceEntry, ``(t, request)``, ``{"t", "request"}`` and promptcache.workloads objects
    (a Trace, or its TraceRequest items), since recorders and the benchmark produce all of them.
    """
    items = getattr(trace, "requests", trace)
    out = []
    for n, item in enumerate(items):
        try:
            out.append(_entry(item, n))
        except TraceError:
            raise
        except (TypeError, ValueError) as e:
            raise TraceError(f"trace[{n}]: 't' must be a number of seconds ({e}).",
                             path=f"trace[{n}]") from e
    return sorted(out, key=lambda e: e.t)


def _entry(item: Any, n: int) -> TraceEntry:
    if isinstance(item, TraceEntry):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
        return TraceEntry(t=float(item[0]), request=item[1])
    if isinstance(item, Mapping) and isinstance(item.get("request"), Mapping):
        return TraceEntry(t=float(item.get("t", n)), request=item["request"])
    if isinstance(getattr(item, "request", None), Mapping):
        return TraceEntry(t=float(item.t), request=item.request)
    raise TraceError(f"trace[{n}]: expected (t, request) or {{'t': ..., 'request': ...}}, "
                     f"got {type(item).__name__}.", path=f"trace[{n}]")


def _dedupe(findings: Sequence[Finding], total: int) -> list[Finding]:
    """One finding per (rule, path), saying in how many of the requests it occurred."""
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        groups[(f.rule, f.path)].append(f)
    out = []
    for same in groups.values():
        first = same[0]
        if total > 1:
            first = Finding(path=first.path, rule=first.rule, severity=first.severity,
                            fix=first.fix, request=first.request,
                            message=f"{first.message} (in {len(same)} of {total} requests)")
        out.append(first)
    return out


def _order_findings(flats: Sequence[FlatRequest]) -> list[Finding]:
    out: list[Finding] = []
    orders: dict[frozenset[str], dict[tuple[str, ...], int]] = defaultdict(dict)
    definitions: dict[str, dict[str, int]] = defaultdict(dict)
    raws: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for n, flat in enumerate(flats):
        names = tuple(b.name or "" for b in flat.blocks if b.level == "tools")
        if names:
            orders[frozenset(names)].setdefault(names, n)
        for b in flat.blocks:
            if b.level == "tools" and b.name:
                definitions[b.name].setdefault(b.canonical, n)
            raws[b.canonical].setdefault(b.raw, (n, b.path))
    for seen in orders.values():
        if len(seen) > 1:
            (first, n0), (second, n1) = list(seen.items())[:2]
            out.append(Finding(
                path="tools", rule="tool-order", severity="warning", request=n1,
                message=(f"tools: request {n1} sends the same {len(first)} tools as request {n0} in "
                         f"another order ({', '.join(second)} vs {', '.join(first)}); the tools "
                         f"level, and so every level, misses ({len(seen)} orders seen)."),
                fix="Sort the tool list (by name) before every call, or build it once and reuse it.",
            ))
    for name, versions in definitions.items():
        if len(versions) > 1:
            n1 = list(versions.values())[1]
            out.append(Finding(
                path=f"tools ({name!r})", rule="tools-changed", severity="warning", request=n1,
                message=(f"tool {name!r} has {len(versions)} different definitions across the trace "
                         f"(first change in request {n1}); each change invalidates the tools, system "
                         "and messages caches."),
                fix="Keep tool definitions fixed between deploys; put changing data in messages.",
            ))
    for _canonical, variants in raws.items():
        if len(variants) > 1:
            (n1, path) = list(variants.values())[1]
            out.append(Finding(
                path=path, rule="key-order", severity="warning", request=n1,
                message=(f"{path}: request {n1} sends the same JSON object as an earlier request "
                         f"with its keys in another order ({len(variants)} orders seen); the "
                         "provider sees different bytes, so the prefix misses from here."),
                fix="Serialise with a fixed key order (json.dumps(sort_keys=True), or build the "
                    "dict the same way every time); Go and Swift maps randomise key order.",
            ))
    return out


def _every_call(flats: Sequence[FlatRequest]) -> list[Finding]:
    if len(flats) < 3:
        return []
    contents: dict[str, list[str]] = defaultdict(list)
    for flat in flats:
        end = _stable_end(flat)
        stop = end[0] if end else 0
        for b in flat.blocks[:stop]:
            if b.level in ("tools", "system"):
                contents[b.path].append(b.raw)
    out = []
    for path, raws in contents.items():
        if len(raws) == len(flats) and len(set(raws)) == len(raws):
            out.append(Finding(
                path=path, rule="changes-every-call", severity="warning",
                message=(f"{path}: inside the cached prefix, and different in every one of the "
                         f"{len(raws)} requests; nothing from here on is ever read from the cache."),
                fix=("Move what changes (per-request data, retrieved documents) after the last "
                     "breakpoint, or mark an earlier, stable block instead."),
            ))
    return out


def _writes(flat: FlatRequest, lim: ModelLimits | None) -> list[tuple[int, str]]:
    """``(block index, ttl)`` of each breakpoint that writes (its prefix reaches the minimum)."""
    minimum = lim.min_cacheable_tokens if lim else 0
    return [(i, ttl) for i, ttl, _ in flat.breakpoints() if flat.prefix_tokens[i] >= minimum]


def _wasted_writes(entries: Sequence[TraceEntry], flats: Sequence[FlatRequest],
                   lims: Sequence[ModelLimits | None]) -> list[Finding]:
    """Replay the trace: an entry lives ``ttl`` after its last write or read; count unread ones.

    Reads follow Anthropic's rule: a later request reads an entry when its prefix up to the
    entry's block is identical and one of its breakpoints is at most 20 blocks further on.
    Entries still alive when the trace ends are not judged.
    """
    fps = [flat.fingerprints() for flat in flats]
    # fingerprint -> [expires_at, read?, first writer (request, path, ttl), late recurrence gap]
    live: dict[str, list[Any]] = {}
    wasted: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    written: dict[str, int] = defaultdict(int)
    end_of_trace = max((e.t for e in entries), default=0.0)

    def settle(fp: str, now: float) -> None:
        entry = live[fp]
        if entry[0] < now and not entry[1]:
            wasted[entry[2]].append((entry[3], None))
            del live[fp]

    for n, (entry, flat) in enumerate(zip(entries, flats, strict=True)):
        now = entry.t
        marks = [i for i, _, _ in flat.breakpoints()]
        for i, fp in enumerate(fps[n]):
            if fp in live:
                if live[fp][0] < now:
                    gap = now - (live[fp][0] - live[fp][4])
                    if not live[fp][1]:
                        wasted[live[fp][2]].append((live[fp][3], gap))
                    del live[fp]
                elif any(i <= m < i + _LOOKBACK for m in marks):
                    live[fp][1] = True
                    live[fp][0] = now + live[fp][4]
        for i, ttl in _writes(flat, lims[n]):
            seconds = TTL_SECONDS.get(ttl, TTL_SECONDS[_DEFAULT_TTL[flat.provider]])
            fp = fps[n][i]
            if fp in live:
                live[fp][0] = max(live[fp][0], now + seconds)
                continue
            path = flat.blocks[i].path
            written[path] += 1
            live[fp] = [now + seconds, False, path, n, seconds]
    for fp in list(live):
        if live[fp][0] <= end_of_trace:
            settle(fp, end_of_trace + 1e-9)
    out = []
    for path, misses in wasted.items():
        gaps = [g for _, g in misses if g is not None]
        if gaps:
            fix = (f"The prefix came back {min(gaps):.0f}s after it was written, past its TTL: use "
                   "ttl '1h' on this breakpoint if such gaps are common, or warm it before it expires.")
        else:
            fix = ("The prefix never came back: drop this breakpoint or move it to a block that "
                   "later requests repeat.")
        out.append(Finding(
            path=path, rule="wasted-write", severity="warning", request=misses[0][0],
            message=(f"{path}: {len(misses)} of {written[path]} cache writes here expired without "
                     "being read; each one paid the write premium for nothing."),
            fix=fix,
        ))
    return out


def lint_trace(trace: TraceInput, *, provider: Provider | None = None,
               limits: ModelLimits | None = None) -> list[Finding]:
    """Every finding over a recorded trace: per-request rules, once each, plus the trace rules.

    ``trace`` holds ``(t, request)`` pairs, :class:`TraceEntry` or ``{"t": ..., "request": ...}``
    dicts, or a :class:`promptcache.workloads.Trace`; they are replayed in time order. Note that
    ``workloads.load_trace`` strips markers (strategies place their own): to lint the markers
    you sent, read the file with :func:`load_trace` here. Raises TraceError naming ``trace[n]``
    and the path when a request is malformed.
    """
    entries = _entries(trace)
    flats = []
    for n, e in enumerate(entries):
        try:
            flats.append(flatten_request(e.request, provider=provider))
        except PromptError as err:
            raise TraceError(f"trace[{n}]: {err}", path=f"trace[{n}].{err.path}") from err
    lims = [_limits(f, limits) for f in flats]
    single: list[Finding] = []
    for n, (flat, lim) in enumerate(zip(flats, lims, strict=True)):
        single += [Finding(path=f.path, rule=f.rule, severity=f.severity, message=f.message,
                           fix=f.fix, request=n)
                   for f in _marker_findings(flat, lim) + _volatile_findings(flat)]
    findings = (_dedupe(single, len(entries)) + _order_findings(flats)
                + _every_call(flats) + _wasted_writes(entries, flats, lims))
    return sorted(findings, key=lambda f: -SEVERITIES.index(f.severity))


def load_trace(path: str | Path) -> list[TraceEntry]:
    """Read a JSONL trace (one ``{"t": seconds, "request": {...}}`` per line; blanks skipped).

    The format of :mod:`promptcache.workloads` (extra keys such as ``session`` are ignored), but
    markers are kept, and any provider's request is accepted. Raises TraceError (a PromptError)
    naming ``file:line`` for a line that is not such an object.
    """
    entries = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise TraceError(f"Cannot read trace {str(path)!r}: {e.strerror or e}.",
                         path=str(path)) from e
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceError(f"{where}: not valid JSON ({e.msg}).", path=where) from e
        if not isinstance(item, Mapping) or not isinstance(item.get("request"), Mapping):
            raise TraceError(f"{where}: expected {{\"t\": seconds, \"request\": {{...}}}}.",
                             path=where)
        t = item.get("t", 0.0)
        if isinstance(t, bool) or not isinstance(t, int | float):
            raise TraceError(f"{where}: 't' must be a number of seconds, got {t!r}.", path=where)
        entries.append(TraceEntry(t=float(t), request=item["request"]))
    return sorted(entries, key=lambda e: e.t)
