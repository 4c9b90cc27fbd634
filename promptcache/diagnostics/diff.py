"""Why did my cache miss: compare two requests block by block, the way the provider's cache does.

A cache hit needs the new request to repeat the old one byte for byte up to a cache entry. When
it does not, the bill shows only "cache_read_input_tokens: 0"; this module says *where* the two
prompts part (the first block that differs and how), *which* cache levels that invalidates per
Anthropic's table (tool definitions: all; web-search or citations toggle: system and messages;
tool_choice, images, thinking settings, non-tool-result content with thinking on: messages), and
what the miss costs. Markers are ignored when comparing: moving a ``cache_control`` never
invalidates anything, and the result says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.errors import UnknownModelError
from promptcache.limits import ModelLimits, Provider, limits_for
from promptcache.positions import LEVEL_ORDER, SALT, SALT_SYSTEM, CacheView, Level, canonical_json
from promptcache.prompt import Prompt
from promptcache.providers.registry import view_of

__all__ = ["INVALIDATION_TABLE", "CacheDiff", "ChangeKind", "Difference", "diff_requests"]

ChangeKind = Literal[
    "identical", "marker-only", "extended", "truncated", "changed", "key-order", "inserted",
    "removed", "reordered", "setting", "model",
]

#: Anthropic's "what invalidates the cache" table: the row, then the levels it invalidates.
#: ``system content`` and ``message content`` are the general rule the table states above it
#: (a change at one level invalidates that level and every later one).
INVALIDATION_TABLE: Mapping[str, tuple[Level, ...]] = {
    "model": ("tools", "system", "messages"),
    "tool definitions": ("tools", "system", "messages"),
    "web search toggle": ("system", "messages"),
    "citations toggle": ("system", "messages"),
    "speed": ("system", "messages"),
    "system content": ("system", "messages"),
    "tool_choice": ("messages",),
    "images": ("messages",),
    "thinking settings": ("messages",),
    "effort": ("messages",),
    "non-tool-result content with thinking": ("messages",),
    "message content": ("messages",),
}

_SETTING_ROWS = {"web_search": "web search toggle", "citations": "citations toggle",
                 "speed": "speed", "tool_choice": "tool_choice", "images": "images",
                 "thinking": "thinking settings", "effort": "effort"}
_LOOKBACK = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """The first place where request B stops repeating request A."""

    kind: ChangeKind
    #: The block (or parameter, e.g. ``tool_choice``) in A and in B; None where it has no match.
    path_a: str | None
    path_b: str | None
    #: The cache level the difference sits in.
    level: Level | None
    #: The rows of the invalidation table that apply (several settings can change at once).
    rows: tuple[str, ...]
    #: One sentence saying what changed.
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheDiff:
    """What request B can reuse of the cache request A left, and what the rest costs.

    Token counts are offline estimates (promptcache.tokens); dollars are None where the model's
    price is unknown.
    """

    provider: Provider
    model_a: str
    model_b: str
    #: Blocks of B, from the start, that repeat A exactly (the longest shared prefix).
    shared_blocks: int
    #: Path of the last block of that shared prefix in B (None when nothing is shared).
    shared_path: str | None
    shared_tokens: int
    change: Difference
    #: Cache levels B can no longer read from A's entries, in cache order.
    invalidated: tuple[Level, ...]
    #: Blocks whose only change is their marker: these never invalidate anything.
    marker_changes: tuple[str, ...]
    #: Settings rows that changed too, beyond the first difference (already invalid there).
    also_changed: tuple[str, ...]
    #: Tokens A wrote to the cache (up to its last effective breakpoint).
    cached_tokens_a: int
    #: Tokens B can read from A's entries.
    read_tokens: int
    #: Tokens A had cached that B cannot read: paid again (as a write, or as plain input).
    miss_tokens: int
    #: Tokens B writes after what it reads, new content included.
    rewrite_tokens: int
    #: Dollars the miss adds over reading ``miss_tokens`` from the cache.
    miss_cost: float | None
    #: Dollars B's whole cacheable prefix costs to rewrite after the read point.
    rewrite_cost: float | None
    limits: ModelLimits | None

    @property
    def hit(self) -> bool:
        """True when B can read everything A cached.

        A change can invalidate a level in which A had cached nothing (a new question after the
        last breakpoint): ``invalidated`` still names it, but nothing is lost.
        """
        return self.miss_tokens == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` output)."""
        return {
            "provider": self.provider, "model_a": self.model_a, "model_b": self.model_b,
            "shared_blocks": self.shared_blocks, "shared_path": self.shared_path,
            "shared_tokens": self.shared_tokens,
            "change": {"kind": self.change.kind, "path_a": self.change.path_a,
                       "path_b": self.change.path_b, "level": self.change.level,
                       "rows": list(self.change.rows), "detail": self.change.detail},
            "invalidated": list(self.invalidated), "marker_changes": list(self.marker_changes),
            "also_changed": list(self.also_changed), "cached_tokens_a": self.cached_tokens_a,
            "read_tokens": self.read_tokens, "miss_tokens": self.miss_tokens,
            "rewrite_tokens": self.rewrite_tokens, "miss_cost": self.miss_cost,
            "rewrite_cost": self.rewrite_cost, "hit": self.hit,
        }

    def explain(self) -> str:
        """A few plain sentences: where the prompts part, what is invalidated, what it costs."""
        c = self.change
        lines = [f"Cache diff ({self.provider}, {self.model_b})."]
        if self.shared_blocks:
            lines.append(f"Shared prefix: {self.shared_blocks} blocks, ~{self.shared_tokens:,} "
                         f"tokens, through {self.shared_path}.")
        else:
            lines.append("Shared prefix: nothing; B differs from A at its first block.")
        where = c.path_b or c.path_a
        lines.append(f"First difference: {where + ': ' if where else ''}{c.detail}")
        if self.invalidated:
            rows = ", ".join(c.rows) or "-"
            lost = "" if self.miss_tokens else (
                " A had nothing cached past the shared prefix, so nothing is lost.")
            lines.append(f"Invalidated: {', '.join(self.invalidated)} cache "
                         f"(table row: {rows}).{lost}")
        else:
            lines.append("Invalidated: nothing; every entry A wrote stays readable by B.")
        if self.also_changed:
            lines.append(f"Also changed (already past the first difference): "
                         f"{', '.join(self.also_changed)}.")
        if self.marker_changes:
            lines.append(f"Marker-only changes (never invalidate): {', '.join(self.marker_changes)}.")
        lines.append(f"A cached ~{self.cached_tokens_a:,} tokens; B reads ~{self.read_tokens:,} and "
                     f"writes ~{self.rewrite_tokens:,}.")
        if self.miss_tokens and not self.invalidated:
            lines.append("B has no breakpoint at or within 20 blocks after A's cache entries, so "
                         "it reads nothing although nothing changed; mark the same blocks as A.")
        if self.miss_tokens:
            cost = f" (+${self.miss_cost:.4f} over reading them)" if self.miss_cost is not None else ""
            lines.append(f"Cost of the miss: ~{self.miss_tokens:,} tokens A had cached are paid "
                         f"again{cost}.")
        return "\n".join(lines)


def _flat(request: Mapping[str, Any] | Prompt, provider: Provider | None) -> CacheView:
    if isinstance(request, Prompt):
        return view_of(_prompt_request(request), provider="anthropic")
    return view_of(request, provider=provider)


def _prompt_request(prompt: Prompt) -> dict[str, Any]:
    """A Prompt as the Anthropic request it stands for, with the markers its user set."""
    def marked(i: int) -> dict[str, Any]:
        block = prompt.blocks[i]
        out = dict(block.payload)
        if block.user_ttl:
            out["cache_control"] = {"type": "ephemeral", "ttl": block.user_ttl}
        return out

    indexes = range(len(prompt.blocks))
    request: dict[str, Any] = {
        **prompt.params, "model": prompt.model,
        "tools": [marked(i) for i in indexes if prompt.blocks[i].section == "tools"],
        "system": [marked(i) for i in indexes if prompt.blocks[i].section == "system"],
        "messages": [{"role": t.role, "content": [marked(i) for i in range(t.start, t.stop)]}
                     for t in prompt.turns],
    }
    return request


def _limits(flat: CacheView) -> ModelLimits | None:
    try:
        return limits_for(flat.model, provider=flat.provider)
    except UnknownModelError:
        return None


def _setting_rows(a: CacheView, b: CacheView) -> list[str]:
    rows = []
    for settings_a, settings_b in ((a.system_settings, b.system_settings),
                                   (a.message_settings, b.message_settings)):
        for key, row in _SETTING_ROWS.items():
            if key in settings_a or key in settings_b:
                va, vb = settings_a.get(key), settings_b.get(key)
                if canonical_json(va) != canonical_json(vb):
                    rows.append(row)
    return rows


def _snippet(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    start = max(0, n - 20)
    return f"{a[start:n + 30]!r} became {b[start:n + 30]!r}"


def _level_rows(level: Level) -> tuple[str, ...]:
    return {"tools": ("tool definitions",), "system": ("system content",),
            "messages": ("message content",)}[level]


def _classify(a: CacheView, b: CacheView, ka: list[tuple[int, bytes]], kb: list[tuple[int, bytes]],
              i: int) -> Difference:
    """Say how key ``i`` differs; both sequences have a key there."""
    (ia, key_a), (ib, key_b) = ka[i], kb[i]
    salt_a, salt_b = key_a.startswith(SALT), key_b.startswith(SALT)
    if salt_a and salt_b and key_a.split(b"\x00")[0] == key_b.split(b"\x00")[0]:
        level: Level = "system" if key_a.startswith(SALT_SYSTEM) else "messages"
        settings = ("web_search", "citations", "speed") if level == "system" else (
            "tool_choice", "thinking", "images", "effort")
        rows = tuple(r for r in _setting_rows(a, b) if r in {_SETTING_ROWS[s] for s in settings})
        return Difference(kind="setting", path_a=None, path_b=b.blocks[ib].path, level=level,
                          rows=rows, detail=f"{' and '.join(rows)} changed; it is folded in where "
                          f"the {level} level starts, so the "
                          f"{' and '.join(INVALIDATION_TABLE[rows[0]])} cache is invalid from here.")
    block_a = None if salt_a else a.blocks[ia]
    block_b = None if salt_b else b.blocks[ib]
    rest_a = {k for _, k in ka[i + 1:]}
    rest_b = {k for _, k in kb[i + 1:]}
    if block_a is not None and block_b is not None and block_a.canonical == block_b.canonical:
        return Difference(kind="key-order", path_a=block_a.path, path_b=block_b.path,
                          level=block_a.level, rows=_level_rows(block_a.level),
                          detail="same content, JSON keys in a different order: the provider "
                          "sees different bytes, so it is a different prompt. Serialise with a "
                          "fixed key order.")
    if block_a is not None and block_a.kind in ("thinking", "redacted_thinking") and any(
            x.stripped and x.path == block_a.path for x in b.blocks):
        return Difference(kind="removed", path_a=block_a.path, path_b=block_a.path,
                          level="messages", rows=("non-tool-result content with thinking",),
                          detail="B's last user message is not only tool results while extended "
                          "thinking is on, so the API strips every earlier thinking block and "
                          "everything after the first one leaves the cache.")
    present = block_a or block_b
    level = present.level if present is not None else "messages"
    a_later, b_later = key_a in rest_b, key_b in rest_a
    if block_a is not None and block_b is not None and block_a.level == block_b.level == "tools" \
            and block_a.name and {x.name for x in a.blocks if x.level == "tools"} \
            == {x.name for x in b.blocks if x.level == "tools"} and block_a.name != block_b.name:
        kind: ChangeKind = "reordered"
        detail = (f"the tool list is the same set in a different order ({block_a.name!r} is now "
                  f"{block_b.name!r}); sort tools by name so the order never changes.")
    elif a_later and b_later:
        kind, detail = "reordered", "the same blocks in a different order."
    elif a_later:
        kind, detail = "inserted", "B inserts a block here; everything after it moves."
    elif b_later:
        kind, detail = "removed", f"B drops {block_a.path if block_a else 'a block'} of A here."
    else:
        kind = "changed"
        if block_a is not None and block_b is not None:
            detail = f"content changed: {_snippet(block_a.raw, block_b.raw)}."
        else:
            detail = "content changed."
    return Difference(kind=kind, path_a=block_a.path if block_a else None,
                      path_b=block_b.path if block_b else None, level=level,
                      rows=_level_rows(level), detail=detail)


def _marker_changes(a: CacheView, b: CacheView, shared: int) -> tuple[str, ...]:
    bps_a = {a.blocks[i].path: t for i, t, _ in a.breakpoints()}
    bps_b = {b.blocks[i].path: t for i, t, _ in b.breakpoints()}
    paths = [x.path for x in b.blocks[:shared]]
    return tuple(p for p in paths if bps_a.get(p) != bps_b.get(p))


def _cached_end(flat: CacheView, lim: ModelLimits | None, below: int | None = None) -> int:
    """Tokens up to the last breakpoint that writes (or, implicit caching, the whole prompt)."""
    minimum = lim.estimated_minimum if lim else 0
    if flat.provider != "anthropic":
        end = flat.total_tokens if below is None else min(flat.total_tokens, below)
        if lim is not None and lim.rounds_to_128:
            end -= end % 128
        return end if end >= minimum else 0
    ends = [flat.prefix_tokens[i] for i, _, _ in flat.breakpoints()
            if below is None or i < below]
    ends = [e for e in ends if e >= minimum]
    return max(ends, default=0)


def _read_tokens(a: CacheView, b: CacheView, lim: ModelLimits | None,
                 aligned: Mapping[int, int], shared_b: int) -> int:
    """What B reads of A's entries: the longest A entry inside the shared prefix B can reach.

    ``aligned`` maps each shared block of A to the same block in B. On Anthropic, B reads an
    entry only if one of B's breakpoints sits at most 20 blocks after it (the lookback).
    """
    if a.provider != "anthropic":
        return _cached_end(b, lim, below=b.tokens_before(shared_b)) if shared_b else 0
    minimum = lim.estimated_minimum if lim else 0
    b_marks = [i for i, _, _ in b.breakpoints()]
    best = 0
    for i, _, _ in a.breakpoints():
        j = aligned.get(i)
        if j is None or a.prefix_tokens[i] < minimum:
            continue
        if any(j <= m < j + _LOOKBACK for m in b_marks):
            best = max(best, b.prefix_tokens[j])
    return best


def _write_ttl(b: CacheView, after: int) -> str | None:
    marks = [(i, t) for i, t, _ in b.breakpoints() if b.prefix_tokens[i] > after]
    return marks[0][1] if marks else None


def _dollars(tokens: int, multiplier: float, lim: ModelLimits | None) -> float | None:
    if lim is None or lim.input_price is None:
        return None
    return tokens * multiplier * lim.input_price / 1_000_000


def diff_requests(a: Mapping[str, Any] | Prompt, b: Mapping[str, Any] | Prompt, *,
                  provider: Provider | None = None) -> CacheDiff:
    """Compare request ``a`` (sent first) with ``b`` (sent next) as the prompt cache sees them.

    Either may be a ``messages.create`` / ``chat.completions.create`` / ``responses.create`` /
    ``generate_content`` keyword dict, hand-written or rendered by promptcache, or a Prompt.
    ``provider`` overrides the detection from the dict's shape. Raises PromptError naming the
    path when a request is malformed.
    """
    fa, fb = _flat(a, provider), _flat(b, provider)
    if fa.provider != fb.provider:
        fb = _flat(b, fa.provider) if not isinstance(b, Prompt) else fb
    lim = _limits(fb)
    ka, kb = list(fa.keys()), list(fb.keys())
    n = 0
    if fa.model == fb.model:
        while n < min(len(ka), len(kb)) and ka[n][1] == kb[n][1]:
            n += 1
    # One past the last shared block that is in the prompt (skipped ones are not "shared").
    shared_b = next((kb[k][0] + 1 for k in range(n - 1, -1, -1)
                     if not kb[k][1].startswith(SALT)), 0)
    if fa.model != fb.model:
        shared_b = 0
        change = Difference(kind="model", path_a="model", path_b="model", level="tools",
                            rows=("model",), detail=f"the model changed ({fa.model!r} to "
                            f"{fb.model!r}); caches are per model, so nothing is shared.")
    elif n < len(ka) and n < len(kb):
        change = _classify(fa, fb, ka, kb, n)
    elif len(ka) == len(kb):
        markers = _marker_changes(fa, fb, len(fb.blocks))
        kind: ChangeKind = "marker-only" if markers else "identical"
        change = Difference(kind=kind, path_a=None, path_b=None, level=None, rows=(), detail=(
            "only cache_control markers moved; markers are not part of the cached content, so "
            "nothing is invalidated." if markers else "the requests are identical for the cache."))
    elif len(kb) > len(ka):
        nxt = fb.blocks[kb[n][0]]
        change = Difference(kind="extended", path_a=None, path_b=nxt.path, level=None, rows=(),
                            detail="B repeats all of A and appends to it; nothing is invalidated.")
    else:
        nxt = fa.blocks[ka[n][0]]
        change = Difference(kind="truncated", path_a=nxt.path, path_b=None, level=None, rows=(),
                            detail="B is a prefix of A; it can read A's entries that end inside B.")
    invalidated: tuple[Level, ...] = ()
    if change.rows:
        wanted = {lvl for row in change.rows for lvl in INVALIDATION_TABLE[row]}
        invalidated = tuple(lvl for lvl in LEVEL_ORDER[fb.provider] if lvl in wanted)
        if fb.provider == "gemini" and change.level is not None:
            order = LEVEL_ORDER["gemini"]
            invalidated = order[order.index(change.level):]
    rows_all = _setting_rows(fa, fb) if fa.model == fb.model else []
    also = tuple(r for r in rows_all if r not in change.rows)
    cached_a = _cached_end(fa, _limits(fa))
    aligned = {ka[k][0]: kb[k][0] for k in range(n) if not ka[k][1].startswith(SALT)}
    read = _read_tokens(fa, fb, lim, aligned, shared_b) if cached_a else 0
    cached_b = _cached_end(fb, lim)
    # What B would have read had nothing changed: all A cached (less what lies past B's end
    # when B is only a prefix of A).
    ceiling = min(cached_a, fb.total_tokens) if change.kind == "truncated" else cached_a
    miss = max(0, ceiling - read)
    rewrite = max(0, cached_b - read)
    written_part = min(miss, rewrite)
    ttl = _write_ttl(fb, read) or ("5m" if fb.provider == "anthropic" else "")
    read_mult = lim.cache_read_multiplier if lim else 0.1
    write_mult = lim.write_multiplier(ttl) if lim else 1.25
    miss_cost = None
    if lim is not None and lim.input_price is not None:
        miss_cost = (written_part * (write_mult - read_mult)
                     + (miss - written_part) * (1 - read_mult)) * lim.input_price / 1_000_000
    return CacheDiff(
        provider=fb.provider, model_a=fa.model, model_b=fb.model, shared_blocks=shared_b,
        shared_path=fb.blocks[shared_b - 1].path if shared_b else None,
        shared_tokens=fb.tokens_before(shared_b), change=change, invalidated=invalidated,
        marker_changes=_marker_changes(fa, fb, shared_b) if change.kind != "marker-only"
        else _marker_changes(fa, fb, len(fb.blocks)),
        also_changed=also, cached_tokens_a=cached_a, read_tokens=read, miss_tokens=miss,
        rewrite_tokens=rewrite, miss_cost=miss_cost,
        rewrite_cost=_dollars(rewrite, write_mult, lim), limits=lim,
    )

