"""The prefix N requests share, and the breakpoint that caches it: pure functions, no I/O.

Warming only pays if every request reads the entry the first one writes, so the shared prefix must
end in (or within the lookback of) a breakpoint that every request carries at the same block.
``prepare`` finds the longest shared prefix by fingerprint and, when no request marks its end,
adds a ``cache_control`` to the last shared block of each request, within the 4-breakpoint budget
and the 1h-before-5m rule. When the shared prefix runs into the messages, the end of the tools and
system (what other callers most likely share) is marked too if a slot is free: an extra
breakpoint adds no cost (writes are billed once, up to the last breakpoint) and lets concurrent
callers with different questions wait for one write of their common prefix.

Fingerprints come from ``prompt_from_request(...).fingerprints``, i.e. from
:func:`promptcache.providers.registry.view_of`, the one model of what the cache sees.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.errors import PromptCacheError, PromptError, RuleViolation
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import prompt_from_request
from promptcache.providers.anthropic.simulator_rules import prewarm_conflicts
from promptcache.providers.registry import view_of

__all__ = ["NotWarmable", "SharedPrefix", "prefix_only_request", "prepare", "prewarm_request"]

_PATH = re.compile(r"^(?P<section>tools|system|messages)\[(?P<i>\d+)\](?:\.content\[(?P<j>\d+)\])?$")


class NotWarmable(PromptError):
    """The requests have no prefix warm-up can write: below the minimum, nothing markable, or
    no breakpoint slot left. :func:`warm_up` then sends them as they are."""


class _NoSlot(NotWarmable, RuleViolation):
    """No breakpoint slot left to mark the shared prefix (also a RuleViolation, as before)."""

    def __init__(self, message: str, *, path: str, rule: str) -> None:
        PromptCacheError.__init__(self, message)
        self.path = path
        self.rule = rule


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedPrefix:
    """The part of the requests that is identical, up to the breakpoint that caches it."""

    #: Blocks shared by every request, and the path of the last one.
    blocks: int
    last_path: str
    #: The breakpoint that caches the shared prefix: its block index, path, TTL, estimated tokens.
    index: int
    path: str
    ttl: str
    tokens: int
    #: Prefix fingerprint at the breakpoint: the single-flight key.
    fingerprint: str
    #: True when promptcache added that breakpoint (no request marked the shared prefix).
    added: bool
    #: ``(fingerprint, ttl, tokens)`` of every entry the first request writes (breakpoints at or
    #: above the minimum, up to the shared prefix): what a leader announces to other callers.
    writes: tuple[tuple[str, str, int], ...] = ()
    #: Fingerprints of every position the requests could read an entry at (within the lookback of
    #: one of their breakpoints, up to the shared prefix), longest first: what a caller waits for.
    reads: tuple[str, ...] = ()


def _mark(request: Mapping[str, Any], path: str, ttl: str) -> dict[str, Any]:
    """A copy of ``request`` with ``cache_control`` on the block at ``path``."""
    match = _PATH.match(path)
    if match is None:  # pragma: no cover - paths come from the builder
        raise PromptError(f"{path}: not a block path.", path=path)
    out = copy.deepcopy(dict(request))
    section, i = match["section"], int(match["i"])
    marker = {"type": "ephemeral", "ttl": ttl}
    if section == "tools":
        out["tools"][i]["cache_control"] = marker
    elif section == "system":
        if isinstance(out["system"], str):
            out["system"] = [{"type": "text", "text": out["system"]}]
        out["system"][i]["cache_control"] = marker
    else:
        message = out["messages"][i]
        if isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        message["content"][int(match["j"])]["cache_control"] = marker
    return out


def prepare(requests: Sequence[Mapping[str, Any]], *, ttl: str = "5m",
            limits: ModelLimits | None = None) -> tuple[list[dict[str, Any]], SharedPrefix]:
    """The requests ready to warm (a breakpoint on their shared prefix) and that prefix.

    ``ttl="1h"`` (the batch path) also lifts earlier markers to 1h, since a 1h entry must come
    before any 5m one. Raises :class:`NotWarmable` (a :class:`PromptError`) when the requests share
    nothing cacheable, and one that is also a :class:`RuleViolation` when no breakpoint slot is
    left to mark the prefix.
    """
    if not requests:
        raise PromptError("warm-up needs at least one request.", path="requests")
    prompts = [prompt_from_request(r) for r in requests]
    fps = [p.fingerprints for p in prompts]
    shared = len(fps[0])
    for other in fps[1:]:
        n = 0
        while n < min(shared, len(other)) and other[n] == fps[0][n]:
            n += 1
        shared = n
    first = prompts[0]
    lim = limits if limits is not None else limits_for(first.model, provider="anthropic")
    markable = [i for i in range(shared) if first.blocks[i].markable]
    if not markable or first.prefix_tokens[markable[-1]] < lim.min_cacheable_tokens:
        tokens = first.prefix_tokens[shared - 1] if shared else 0
        raise NotWarmable(
            f"requests[*]: the {len(requests)} requests share {shared} blocks (~{tokens:,} tokens), "
            f"below the {lim.min_cacheable_tokens:,}-token minimum of {first.model} or without a "
            "block that can carry cache_control: there is nothing to warm. Send them as they are.",
            path="requests")
    target = markable[-1]
    last_path = first.blocks[shared - 1].path
    existing = [i for i in markable if first.blocks[i].user_ttl]
    stable = _stable_end(first, markable, lim)
    if target in existing and all(p.blocks[target].user_ttl for p in prompts) and ttl != "1h" \
            and (stable is None or stable in existing):
        kept = [dict(r) for r in requests]
        return kept, _shared(first, kept[0], shared, last_path, target,
                             str(first.blocks[target].user_ttl), lim, added=False)
    out = []
    for r_index, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
        marks = {i: b.user_ttl for i, b in enumerate(prompt.blocks) if b.user_ttl}
        slots = len(marks) + (1 if request.get("cache_control") is not None else 0)
        if target not in marks and slots >= lim.max_breakpoints:
            raise _NoSlot(
                f"requests[{r_index}]: all {lim.max_breakpoints} cache breakpoints are taken, so "
                f"none can mark the shared prefix at {prompt.blocks[target].path}; remove one.",
                path=f"requests[{r_index}].{prompt.blocks[target].path}", rule="max-breakpoints")
        chosen = "1h" if ttl == "1h" or any(t == "1h" for i, t in marks.items() if i > target) else ttl
        marked = _mark(request, prompt.blocks[target].path, chosen)
        if chosen == "1h":
            for i, t in marks.items():
                if i < target and t != "1h":
                    marked = _mark(marked, prompt.blocks[i].path, "1h")
        used = slots + (target not in marks)
        if stable is not None and stable not in marks and used < lim.max_breakpoints:
            later = [t for i, t in marks.items() if i > stable] + [chosen]
            marked = _mark(marked, prompt.blocks[stable].path,
                           max(later, key=lambda t: TTL_SECONDS[str(t)]) or ttl)
        out.append(marked)
    ttl_used = _ttl_at(out[0], first.blocks[target].path)
    return out, _shared(first, out[0], shared, last_path, target, ttl_used, lim,
                        added=target not in existing)


def _stable_end(prompt: Prompt, markable: Sequence[int], lim: ModelLimits) -> int | None:
    """The last markable block before the messages, when the shared prefix runs into them and
    the tools and system alone reach the minimum (else None)."""
    target = markable[-1]
    if prompt.blocks[target].section != "messages":
        return None
    before = [i for i in markable if prompt.blocks[i].section != "messages"]
    if not before or prompt.prefix_tokens[before[-1]] < lim.min_cacheable_tokens:
        return None
    return before[-1]


def _ttl_at(request: Mapping[str, Any], path: str) -> str:
    prompt = prompt_from_request(request)
    block = next(b for b in prompt.blocks if b.path == path)
    return str(block.user_ttl)


def _shared(prompt: Prompt, marked: Mapping[str, Any], shared: int, last_path: str, target: int,
            ttl: str, lim: ModelLimits, *, added: bool) -> SharedPrefix:
    """The SharedPrefix, with the entries the marked first request writes and the positions any
    request could read from (for single-flight across callers)."""
    fps = prompt.fingerprints
    view = view_of(marked, provider="anthropic")
    writes = tuple((fps[i], t, view.prefix_tokens[i]) for i, t, _ in view.breakpoints()
                   if i <= target and view.prefix_tokens[i] >= lim.min_cacheable_tokens)
    window = lim.lookback_blocks or len(view.blocks)
    readable = {j for i, _, _ in view.breakpoints() if i <= target
                for j in range(max(0, i - window + 1), i + 1)}
    return SharedPrefix(blocks=shared, last_path=last_path, index=target,
                        path=prompt.blocks[target].path, ttl=ttl,
                        tokens=prompt.prefix_tokens[target], fingerprint=fps[target], added=added,
                        writes=writes, reads=tuple(fps[j] for j in sorted(readable, reverse=True)))


def prefix_only_request(request: Mapping[str, Any], prefix: SharedPrefix) -> dict[str, Any]:
    """``request`` cut after the shared prefix, with ``max_tokens=0``: it writes and generates nothing.

    A prefix that ends before the messages gets a one-character user message (the API needs one);
    entries above the messages do not depend on it.
    """
    match = _PATH.match(prefix.path)
    assert match is not None
    out = {k: copy.deepcopy(v) for k, v in request.items() if k not in ("stream", "cache_control")}
    section, i = match["section"], int(match["i"])
    if section == "tools":
        out["tools"] = out["tools"][: i + 1]
        out.pop("system", None)
        out["messages"] = [{"role": "user", "content": "."}]
    elif section == "system":
        if isinstance(out["system"], list):
            out["system"] = out["system"][: i + 1]
        out["messages"] = [{"role": "user", "content": "."}]
    else:
        messages = out["messages"][: i + 1]
        last = messages[-1]
        if isinstance(last["content"], list):
            last["content"] = last["content"][: int(match["j"]) + 1]
        out["messages"] = messages
    out["max_tokens"] = 0
    return out


def prewarm_request(request: Mapping[str, Any], prefix: SharedPrefix) -> tuple[dict[str, Any] | None, str]:
    """The ``max_tokens=0`` request that writes ``prefix``, or ``(None, why)`` when none can.

    The API refuses a pre-warm with streaming, extended thinking, structured outputs, a forced
    ``tool_choice`` or inside a batch. ``stream`` is dropped; thinking and ``tool_choice`` are
    dropped only where the cache's view shows they do not change the prefix's fingerprint (they
    invalidate the messages level, so a prefix that ends in the tools or system is unaffected).
    Anything else that conflicts means no pre-warm: the caller leads with a real request.
    """
    cut = prefix_only_request(request, prefix)
    for key in prewarm_conflicts(cut):
        if key in ("thinking", "tool_choice"):
            cut.pop(key, None)
    left = prewarm_conflicts(cut)
    if left:
        return None, (f"a max_tokens=0 pre-warm is refused with {', '.join(left)}; the first "
                      "request leads instead")
    fingerprints = view_of(cut, provider="anthropic").fingerprints()
    if prefix.index >= len(fingerprints) or fingerprints[prefix.index] != prefix.fingerprint:
        return None, ("a max_tokens=0 pre-warm would need settings the API refuses with it "
                      "(thinking or tool_choice change this prefix); the first request leads instead")
    return cut, ""
