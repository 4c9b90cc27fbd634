"""The prefix N requests share, and the breakpoint that caches it: pure functions, no I/O.

Warming only pays if every request reads the entry the first one writes, so the shared prefix must
end in (or within the lookback of) a breakpoint that every request carries at the same block.
``prepare`` finds the longest shared prefix by fingerprint and, when no request marks its end,
adds a ``cache_control`` to the last shared block of each request, within the 4-breakpoint budget
and the 1h-before-5m rule.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.errors import PromptError, RuleViolation
from promptcache.limits import ModelLimits, limits_for
from promptcache.providers.anthropic.render import prompt_from_request

__all__ = ["SharedPrefix", "prefix_only_request", "prepare"]

_PATH = re.compile(r"^(?P<section>tools|system|messages)\[(?P<i>\d+)\](?:\.content\[(?P<j>\d+)\])?$")


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
    before any 5m one. Raises :class:`PromptError` when the requests share nothing cacheable and
    :class:`RuleViolation` when no breakpoint slot is left to mark the prefix.
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
        raise PromptError(
            f"requests[*]: the {len(requests)} requests share {shared} blocks (~{tokens:,} tokens), "
            f"below the {lim.min_cacheable_tokens:,}-token minimum of {first.model} or without a "
            "block that can carry cache_control: there is nothing to warm. Send them as they are.",
            path="requests")
    target = markable[-1]
    last_path = first.blocks[shared - 1].path
    existing = [i for i in markable if first.blocks[i].user_ttl]
    if target in existing and all(p.blocks[target].user_ttl for p in prompts) and ttl != "1h":
        return [dict(r) for r in requests], _shared(first, fps[0], shared, last_path, target,
                                                  str(first.blocks[target].user_ttl), added=False)
    out = []
    for r_index, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
        marks = {i: b.user_ttl for i, b in enumerate(prompt.blocks) if b.user_ttl}
        slots = len(marks) + (1 if request.get("cache_control") is not None else 0)
        if target not in marks and slots >= lim.max_breakpoints:
            raise RuleViolation(
                f"requests[{r_index}]: all {lim.max_breakpoints} cache breakpoints are taken, so "
                f"none can mark the shared prefix at {prompt.blocks[target].path}; remove one.",
                path=f"requests[{r_index}].{prompt.blocks[target].path}", rule="max-breakpoints")
        chosen = "1h" if ttl == "1h" or any(t == "1h" for i, t in marks.items() if i > target) else ttl
        marked = _mark(request, prompt.blocks[target].path, chosen)
        if chosen == "1h":
            for i, t in marks.items():
                if i < target and t != "1h":
                    marked = _mark(marked, prompt.blocks[i].path, "1h")
        out.append(marked)
    ttl_used = _ttl_at(out[0], first.blocks[target].path)
    return out, _shared(first, fps[0], shared, last_path, target, ttl_used,
                        added=target not in existing)


def _ttl_at(request: Mapping[str, Any], path: str) -> str:
    prompt = prompt_from_request(request)
    block = next(b for b in prompt.blocks if b.path == path)
    return str(block.user_ttl)


def _shared(prompt: Any, fps: Sequence[str], shared: int, last_path: str, target: int, ttl: str, *,
            added: bool) -> SharedPrefix:
    return SharedPrefix(blocks=shared, last_path=last_path, index=target,
                        path=prompt.blocks[target].path, ttl=ttl,
                        tokens=prompt.prefix_tokens[target], fingerprint=fps[target], added=added)


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
