"""The 400s of Anthropic's cache markers, checked on the cache's view of a request.

Split from :mod:`.simulator` so the validation rules sit apart from the cache state. Positions
come from :func:`promptcache.providers.registry.view_of` (the one model of what the cache sees); only the
raw marker objects are read back from the request dict, by each position's path, because the view
keeps a marker's TTL but not the object the API validates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError
from promptcache.positions import CacheView
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.registry import view_of

__all__ = ["breakpoint_ttls", "check_prewarm", "prewarm_conflicts", "read_view"]

_TTLS = ("5m", "1h")
_PATH = re.compile(r"^(?P<section>tools|system|messages)(?:\[(?P<i>\d+)\])?"
                   r"(?:\.content(?:\[(?P<j>\d+)\])?)?$")


def read_view(request: Mapping[str, Any]) -> CacheView:
    """The cache's view of ``request``; a malformed request is the API's 400, not a crash."""
    try:
        return view_of(request, provider="anthropic")
    except PromptError as e:
        raise SimulatedAPIError(str(e), rule="invalid-request", path=e.path) from e


def _marker_at(request: Mapping[str, Any], path: str) -> Any:
    """The ``cache_control`` object of the block at ``path`` (a path the view produced)."""
    match = _PATH.match(path)
    if match is None:  # pragma: no cover - every path comes from view_of
        return None
    section, i, j = match["section"], match["i"], match["j"]
    node: Any = request.get(section)
    if i is not None:
        node = node[int(i)]
    if section == "messages":
        node = node.get("content")
        if j is not None:
            node = node[int(j)]
    return node.get("cache_control") if isinstance(node, Mapping) else None


def _api_reason(kind: str) -> str:
    """The API's own wording for a marker on a block that cannot carry one."""
    if kind in ("thinking", "redacted_thinking"):
        return f"{kind} blocks cannot be cached directly with cache_control"
    return "cache_control cannot be set for empty text blocks"


def _check_marker(control: Any, path: str) -> str:
    where = f"{path}.cache_control" if path != "<request>" else "cache_control"
    if not isinstance(control, Mapping) or control.get("type") != "ephemeral":
        raise SimulatedAPIError(f"{where}.type: Input should be 'ephemeral'",
                                rule="cache-control-type", path=path if path != "<request>" else
                                "cache_control")
    ttl = control.get("ttl", "5m")
    if ttl not in _TTLS:
        raise SimulatedAPIError(f"{where}.ttl: Input should be '5m' or '1h'",
                                rule="cache-control-ttl", path=path if path != "<request>" else
                                "cache_control")
    return str(ttl)


def breakpoint_ttls(request: Mapping[str, Any], view: CacheView,
                    max_breakpoints: int) -> list[str | None]:
    """The TTL of the breakpoint on each position of ``view``, validated as the API does.

    Raises :class:`SimulatedAPIError` for a marker that is not ``ephemeral`` or has an unknown
    TTL, a marker on a block that cannot carry one, a request-level marker whose TTL differs from
    the last cacheable block's, more than ``max_breakpoints`` markers, or a 1h marker after a 5m.
    """
    blocks = view.blocks
    ttls: list[str | None] = []
    for b in blocks:
        if b.ttl is None:
            ttls.append(None)
            continue
        ttl = _check_marker(_marker_at(request, b.path), b.path)
        if b.unmarkable:
            raise SimulatedAPIError(f"{b.path}: {_api_reason(b.kind)}.", rule="uncacheable-block",
                                    path=b.path)
        ttls.append(ttl)
    explicit = sum(t is not None for t in ttls)
    automatic = request.get("cache_control")
    if automatic is not None:
        ttl = _check_marker(automatic, "<request>")
        last = next((i for i in range(len(blocks) - 1, -1, -1) if not blocks[i].unmarkable), None)
        if last is not None:
            if ttls[last] is not None and ttls[last] != ttl:
                raise SimulatedAPIError(
                    f"The request-level cache_control (ttl '{ttl}') conflicts with the "
                    f"cache_control on the last cacheable block {blocks[last].path} "
                    f"(ttl '{ttls[last]}').", rule="automatic-ttl-conflict", path=blocks[last].path)
            ttls[last] = ttl
        explicit += 1
    if explicit > max_breakpoints:
        raise SimulatedAPIError(
            f"A maximum of {max_breakpoints} blocks with cache_control may be provided. "
            f"Found {explicit}.", rule="max-breakpoints")
    seen_5m: str | None = None
    for b, mark in zip(blocks, ttls, strict=True):
        if mark == "5m" and seen_5m is None:
            seen_5m = b.path
        elif mark == "1h" and seen_5m is not None:
            raise SimulatedAPIError(
                f"A cache_control block with ttl='1h' ({b.path}) must not come after a "
                f"cache_control block with ttl='5m' ({seen_5m}). Note that blocks are processed "
                "in the following order: `tools`, `system`, `messages`.",
                rule="ttl-order", path=b.path)
    return ttls


def prewarm_conflicts(request: Mapping[str, Any], *, batch: bool = False) -> tuple[str, ...]:
    """What stops ``request`` from being a ``max_tokens=0`` pre-warm (empty: nothing does).

    The prompt-caching page (pre-warming; PROVIDER_FACTS E, August 2026 revision) refuses it with
    streaming, extended thinking, structured outputs, a forced ``tool_choice`` and inside Message
    Batches. Warm-up reads the same list to decide when to fall back.
    """
    out = []
    if request.get("stream"):
        out.append("stream")
    thinking = request.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
        out.append("thinking")
    config = request.get("output_config")
    if request.get("output_format") is not None or (
            isinstance(config, Mapping) and config.get("format") is not None):
        out.append("output_config.format")
    choice = request.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("tool", "any"):
        out.append("tool_choice")
    if batch:
        out.append("batch")
    return tuple(out)


def check_prewarm(request: Mapping[str, Any], *, batch: bool = False) -> None:
    """Raise the API's 400 for a ``max_tokens=0`` request it refuses (see prewarm_conflicts)."""
    if request.get("max_tokens") != 0:
        return
    conflicts = prewarm_conflicts(request, batch=batch)
    if conflicts:
        raise SimulatedAPIError(
            "max_tokens: 0 (cache pre-warming) cannot be combined with "
            f"{', '.join(conflicts)}.", rule="prewarm", path="max_tokens")
