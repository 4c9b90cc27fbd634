"""Trace lint rules: what changes between calls, and cache writes nobody reads.

Needs the requests in time order, so it replays ``(t, request)`` pairs; the per-request rules
come from :mod:`.rules`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcache.diagnostics.lint_rules import (
    SEVERITIES,
    LintFinding,
    cached_prefix_end,
    limits_or_none,
    marker_findings,
    volatile_findings,
)
from promptcache.errors import PromptError, TraceError
from promptcache.limits import TTL_SECONDS, ModelLimits, Provider
from promptcache.positions import CacheView
from promptcache.providers.registry import view_of
from promptcache.redact import redacted_repr

__all__ = ["TraceEntry", "TraceError", "lint_trace", "load_trace"]

#: How long an entry lives when the request does not say (OpenAI in-memory retention: 5-10 min).
_DEFAULT_TTL: Mapping[Provider, str] = {"anthropic": "5m", "openai": "30m", "gemini": "5m"}
_LOOKBACK = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEntry:
    """One recorded request: when it was sent (seconds, any origin) and its keyword arguments."""

    #: Header values and credentials in ``request`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    t: float
    request: Mapping[str, Any]


# -- trace rules -------------------------------------------------------------------------------


TraceInput = Iterable[Any]


def _entries(trace: Any) -> list[TraceEntry]:
    """The trace as TraceEntry items sorted by time (stable).

    Accepts TraceEntry, ``(t, request)``, ``{"t", "request"}`` and promptcache.replay.workloads objects
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


def _dedupe(findings: Sequence[LintFinding], total: int) -> list[LintFinding]:
    """One finding per (rule, path), saying in how many of the requests it occurred."""
    groups: dict[tuple[str, str], list[LintFinding]] = defaultdict(list)
    for f in findings:
        groups[(f.rule, f.path)].append(f)
    out = []
    for same in groups.values():
        first = same[0]
        if total > 1:
            first = LintFinding(path=first.path, rule=first.rule, severity=first.severity,
                            fix=first.fix, request=first.request,
                            message=f"{first.message} (in {len(same)} of {total} requests)")
        out.append(first)
    return out


def _order_findings(flats: Sequence[CacheView]) -> list[LintFinding]:
    out: list[LintFinding] = []
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
            out.append(LintFinding(
                path="tools", rule="tool-order", severity="warning", request=n1,
                message=(f"tools: request {n1} sends the same {len(first)} tools as request {n0} in "
                         f"another order ({', '.join(second)} vs {', '.join(first)}); the tools "
                         f"level, and so every level, misses ({len(seen)} orders seen)."),
                fix="Sort the tool list (by name) before every call, or build it once and reuse it.",
            ))
    for name, versions in definitions.items():
        if len(versions) > 1:
            n1 = list(versions.values())[1]
            out.append(LintFinding(
                path=f"tools ({name!r})", rule="tools-changed", severity="warning", request=n1,
                message=(f"tool {name!r} has {len(versions)} different definitions across the trace "
                         f"(first change in request {n1}); each change invalidates the tools, system "
                         "and messages caches."),
                fix="Keep tool definitions fixed between deploys; put changing data in messages.",
            ))
    for _canonical, variants in raws.items():
        if len(variants) > 1:
            (n1, path) = list(variants.values())[1]
            out.append(LintFinding(
                path=path, rule="key-order", severity="warning", request=n1,
                message=(f"{path}: request {n1} sends the same JSON object as an earlier request "
                         f"with its keys in another order ({len(variants)} orders seen); the "
                         "provider sees different bytes, so the prefix misses from here."),
                fix="Serialise with a fixed key order (json.dumps(sort_keys=True), or build the "
                    "dict the same way every time); Go and Swift maps randomise key order.",
            ))
    return out


def _every_call(flats: Sequence[CacheView]) -> list[LintFinding]:
    if len(flats) < 3:
        return []
    contents: dict[str, list[str]] = defaultdict(list)
    for flat in flats:
        end = cached_prefix_end(flat)
        stop = end[0] if end else 0
        for b in flat.blocks[:stop]:
            if b.level in ("tools", "system"):
                contents[b.path].append(b.raw)
    out = []
    for path, raws in contents.items():
        if len(raws) == len(flats) and len(set(raws)) == len(raws):
            out.append(LintFinding(
                path=path, rule="changes-every-call", severity="warning",
                message=(f"{path}: inside the cached prefix, and different in every one of the "
                         f"{len(raws)} requests; nothing from here on is ever read from the cache."),
                fix=("Move what changes (per-request data, retrieved documents) after the last "
                     "breakpoint, or mark an earlier, stable block instead."),
            ))
    return out


def _writes(flat: CacheView, lim: ModelLimits | None) -> list[tuple[int, str]]:
    """``(block index, ttl)`` of each breakpoint that writes (its prefix reaches the minimum)."""
    minimum = lim.estimated_minimum if lim else 0
    return [(i, ttl) for i, ttl, _ in flat.breakpoints() if flat.prefix_tokens[i] >= minimum]


def _wasted_writes(entries: Sequence[TraceEntry], flats: Sequence[CacheView],
                   lims: Sequence[ModelLimits | None]) -> list[LintFinding]:
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
        out.append(LintFinding(
            path=path, rule="wasted-write", severity="warning", request=misses[0][0],
            message=(f"{path}: {len(misses)} of {written[path]} cache writes here expired without "
                     "being read; each one paid the write premium for nothing."),
            fix=fix,
        ))
    return out


def lint_trace(trace: TraceInput, *, provider: Provider | None = None,
               limits: ModelLimits | None = None) -> list[LintFinding]:
    """Every finding over a recorded trace: per-request rules, once each, plus the trace rules.

    ``trace`` holds ``(t, request)`` pairs, :class:`TraceEntry` or ``{"t": ..., "request": ...}``
    dicts, or a :class:`promptcache.replay.workloads.Trace`; they are replayed in time order. Note that
    ``workloads.load_trace`` strips markers (strategies place their own): to lint the markers
    you sent, read the file with :func:`load_trace` here. Raises TraceError naming ``trace[n]``
    and the path when a request is malformed.
    """
    entries = _entries(trace)
    flats = []
    for n, e in enumerate(entries):
        try:
            flats.append(view_of(e.request, provider=provider))
        except PromptError as err:
            raise TraceError(f"trace[{n}]: {err}", path=f"trace[{n}].{err.path}") from err
    lims = [limits_or_none(f, limits) for f in flats]
    single: list[LintFinding] = []
    for n, (flat, lim) in enumerate(zip(flats, lims, strict=True)):
        single += [LintFinding(path=f.path, rule=f.rule, severity=f.severity, message=f.message,
                           fix=f.fix, request=n)
                   for f in marker_findings(flat, lim) + volatile_findings(flat)]
    findings = (_dedupe(single, len(entries)) + _order_findings(flats)
                + _every_call(flats) + _wasted_writes(entries, flats, lims))
    return sorted(findings, key=lambda f: -SEVERITIES.index(f.severity))


def load_trace(path: str | Path) -> list[TraceEntry]:
    """Read a JSONL trace (one ``{"t": seconds, "request": {...}}`` per line; blanks skipped).

    The format of :mod:`promptcache.replay.workloads` (extra keys such as ``session`` are ignored), but
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
