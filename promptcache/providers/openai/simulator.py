"""OpenAI's automatic prompt cache, offline, for chat completions and the responses API.

Modelled: a longest-prefix match on tokens from the model's minimum; before GPT-5.6 the match is
rounded down to 128 tokens and writes are free, from GPT-5.6 it is exact at segment boundaries and
writes are reported (``cache_write_tokens``, by TTL on the responses API); routing to one of
``machines`` by ``prompt_cache_key`` (or by a hash of the first 256 tokens), with overflow to the
next machine past ``overflow_rpm`` requests per minute for one key; retention ``in_memory``
(evicted after ``in_memory_idle`` seconds unused, at most an hour) or ``24h``; on GPT-5.6+ the
``prompt_cache_options`` mode/ttl and ``prompt_cache_breakpoint`` on content parts, and the
prompt cache diagnostics a ``comparison_response_id`` asks for (``prompt_cache_diagnostics``: the
first setting or input token that differs from the compared response, and what it cost).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.clock import Clock, WallClock
from promptcache.errors import PromptError
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.positions import Position
from promptcache.providers._prefix import Segment, TokenStream
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.registry import view_of

__all__ = ["OpenAICacheResult", "OpenAICacheSimulator"]

Api = Literal["chat", "responses"]
_RETENTIONS = ("in_memory", "24h")
_ROUTING_TOKENS = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAICacheResult:
    """What one simulated request read and wrote, and the ``usage`` object the API would return."""

    usage: dict[str, Any]
    prompt_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    #: The simulated machine that served the request.
    machine: int
    #: ``prompt_cache_diagnostics`` for a responses request that asked for them (GPT-5.6+).
    diagnostics: dict[str, Any] | None = None


@dataclass(slots=True)
class _Entry:
    created: float
    last_used: float
    #: ``in_memory``, ``24h`` or an explicit TTL (``30m``/``12h``).
    retention: str


@dataclass(frozen=True, slots=True)
class _Compared:
    """What a later request's diagnostics compare with: the settings and the input tokens."""

    settings: tuple[tuple[str, str], ...]
    tokens: tuple[int, ...]
    #: The longest prefix of this request held in cache once it ran (read or written).
    reusable: int


#: (reason, how to read the setting from the request), in the order a divergence is reported.
_SETTINGS: tuple[tuple[str, Any], ...] = (
    ("model_changed", lambda r: r.get("model")),
    ("prompt_cache_key_changed", lambda r: r.get("prompt_cache_key")),
    ("tools_changed", lambda r: r.get("tools")),
    ("text_format_changed", lambda r: (r.get("text") or {}).get("format")),
    ("reasoning_effort_changed", lambda r: (r.get("reasoning") or {}).get("effort")),
    ("verbosity_changed", lambda r: (r.get("text") or {}).get("verbosity")),
    ("service_tier_changed", lambda r: r.get("service_tier")),
)
_COMPARED_KEPT = 1024


def _settings_of(request: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((reason, json.dumps(read(request), sort_keys=True, default=str))
                 for reason, read in _SETTINGS)


def _comparison_id(request: Mapping[str, Any]) -> str | None:
    options = request.get("prompt_cache_options")
    if not isinstance(options, Mapping) or options.get("comparison_response_id") is None:
        return None
    return str(options["comparison_response_id"])


_STEP = re.compile(r"^(?P<key>[A-Za-z_]+)(?:\[(?P<index>\d+)\])?$")


def _at(request: Mapping[str, Any], path: str) -> Any:
    """The value at a path the cache view produced (``input[2].content[0]``)."""
    node: Any = request
    for step in path.split("."):
        match = _STEP.match(step)
        if match is None or not isinstance(node, Mapping):
            return None
        node = node.get(match["key"])
        if match["index"] is not None:
            node = node[int(match["index"])] if isinstance(node, list) else None
    return node


def _text(position: Position) -> str:
    payload = position.payload
    if isinstance(payload, str):
        return payload
    if isinstance(payload, Mapping) and isinstance(payload.get("text"), str):
        return str(payload["text"])
    return position.raw


def segments(api: Api, request: Mapping[str, Any], default_ttl: str = "30m") -> list[Segment]:
    """The request in cache order (tools, then instructions / messages / input items), read from
    :func:`promptcache.providers.registry.view_of`: one segment per position, and a role marker where a
    message starts. A breakpoint without a ``ttl`` takes ``default_ttl`` (the request's)."""
    try:
        view = view_of(request, provider="openai")
    except PromptError as e:
        raise SimulatedAPIError(str(e), rule="invalid-request", path=e.path, style="openai") from e
    out: list[Segment] = []
    message: str | None = None
    for b in view.blocks:
        if b.level != "tools":
            owner = b.path.split(".content", 1)[0]
            if owner != message and b.role is not None:
                out.append(Segment(text=f"<|{b.role}|>"))
            message = owner
        ttl = b.ttl
        if ttl is not None:
            marker = _at(request, b.path)
            raw = marker.get("prompt_cache_breakpoint") if isinstance(marker, Mapping) else None
            if isinstance(raw, Mapping) and "ttl" not in raw:
                ttl = default_ttl
        out.append(Segment(text=_text(b), breakpoint_ttl=ttl))
    return out


class OpenAICacheSimulator:
    """An in-memory model of OpenAI's prompt cache across a small fleet of machines. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        machines: int = 8,
        overflow_rpm: int = 15,
        in_memory_idle: float = 300.0,
        default_retention: str = "24h",
        limits: ModelLimits | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.machines = machines
        self.overflow_rpm = overflow_rpm
        self.in_memory_idle = in_memory_idle
        self.default_retention = default_retention
        self._limits = limits
        self._stores: dict[int, dict[str, _Entry]] = {}
        self._recent: dict[str, deque[float]] = {}
        self._compared: OrderedDict[str, _Compared] = OrderedDict()
        self._lock = threading.Lock()

    def limits(self, model: str) -> ModelLimits:
        """The limits used for ``model``: the override if one was given, else the table's row."""
        return self._limits if self._limits is not None else limits_for(model, provider="openai")

    def chat(
        self, request: Mapping[str, Any], *, now: float | None = None, output_tokens: int = 0
    ) -> OpenAICacheResult:
        """Simulate ``chat.completions.create(**request)``; usage in the chat-completions shape."""
        return self._run("chat", request, now, output_tokens)

    def responses(
        self, request: Mapping[str, Any], *, now: float | None = None, output_tokens: int = 0,
        response_id: str | None = None,
    ) -> OpenAICacheResult:
        """Simulate ``responses.create(**request)``; usage in the responses-API shape.

        ``response_id`` names this response for a later ``comparison_response_id``.
        """
        return self._run("responses", request, now, output_tokens, response_id)

    def count_prompt_tokens(self, api: Api, request: Mapping[str, Any]) -> int:
        """The prompt's token count as this simulator measures it."""
        return len(TokenStream.of(segments(api, request)))

    def _options(self, request: Mapping[str, Any], limits: ModelLimits) -> tuple[str, str, str]:
        """``(mode, ttl, retention)`` after validating the caching parameters like the API."""
        options = request.get("prompt_cache_options")
        has_breakpoints = '"prompt_cache_breakpoint"' in json.dumps(request, default=str)
        if not limits.explicit_breakpoints:
            if options is not None or has_breakpoints:
                param = "prompt_cache_options" if options is not None else "prompt_cache_breakpoint"
                raise SimulatedAPIError(
                    f"{param} is supported for gpt-5.6 and later models only, not "
                    f"{request.get('model')!r}.",
                    rule="explicit-caching-unsupported",
                    path=param,
                    style="openai",
                )
            retention = str(request.get("prompt_cache_retention") or self.default_retention)
            if retention not in _RETENTIONS:
                raise SimulatedAPIError(
                    f"Invalid value for prompt_cache_retention: {retention!r}; expected "
                    "'in_memory' or '24h'.",
                    rule="retention",
                    path="prompt_cache_retention",
                    style="openai",
                )
            if retention == "in_memory" and str(request.get("model", "")).startswith("gpt-5.5"):
                raise SimulatedAPIError(
                    f"{request.get('model')} supports only prompt_cache_retention='24h'.",
                    rule="retention",
                    path="prompt_cache_retention",
                    style="openai",
                )
            return "implicit", "", retention
        opts: Mapping[str, Any] = options if isinstance(options, Mapping) else {}
        mode = str(opts.get("mode", "implicit"))
        ttl = str(opts.get("ttl", "30m"))
        if mode not in ("implicit", "explicit") or ttl not in ("30m", "12h"):
            raise SimulatedAPIError(
                "prompt_cache_options: mode must be 'implicit' or 'explicit', "
                "and ttl '30m' or '12h'.",
                rule="prompt-cache-options",
                path="prompt_cache_options",
                style="openai",
            )
        return mode, ttl, ttl

    def _route(self, request: Mapping[str, Any], stream: TokenStream, now: float) -> int:
        key = request.get("prompt_cache_key")
        route = f"key:{key}" if key else f"head:{stream.head_hash(_ROUTING_TOKENS)}"
        recent = self._recent.setdefault(route, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        overflow = len(recent) // self.overflow_rpm if self.overflow_rpm > 0 else 0
        recent.append(now)
        base = int(hashlib.sha256(route.encode()).hexdigest(), 16) % self.machines
        return (base + overflow) % self.machines

    def _alive(self, entry: _Entry, now: float) -> bool:
        if entry.retention == "in_memory":
            return now - entry.last_used <= self.in_memory_idle and now - entry.created <= 3_600
        if entry.retention == "24h":
            return now - entry.created <= TTL_SECONDS["24h"]
        return now - entry.last_used <= TTL_SECONDS[entry.retention]

    def _diagnose(self, request: Mapping[str, Any], current: _Compared,
                  cached: int) -> dict[str, Any] | None:
        """``prompt_cache_diagnostics`` against the compared response (lock held)."""
        wanted = _comparison_id(request)
        if wanted is None:
            return None
        previous = self._compared.get(wanted)
        if previous is None:
            return {"type": "comparison_response_not_found"}
        total = len(current.tokens)
        for (reason, before), (_, now) in zip(previous.settings, current.settings, strict=True):
            if before != now:
                return {"type": "cache_miss", "reason": reason, "cache_missed_tokens": total,
                        "comparison_reusable_tokens": previous.reusable}
        shared = 0
        limit = min(previous.reusable, total)
        while shared < limit and previous.tokens[shared] == current.tokens[shared]:
            shared += 1
        if shared < limit:
            return {"type": "cache_miss", "reason": "input_changed",
                    "cache_missed_tokens": total - shared,
                    "comparison_reusable_tokens": previous.reusable}
        return {"type": "cache_hit"} if cached >= limit else {"type": "unavailable"}

    def _run(
        self, api: Api, request: Mapping[str, Any], now: float | None, output_tokens: int,
        response_id: str | None = None,
    ) -> OpenAICacheResult:
        when = self.clock.now() if now is None else now
        model = str(request.get("model", ""))
        limits = self.limits(model)
        mode, ttl, retention = self._options(request, limits)
        stream = TokenStream.of(segments(api, request, ttl or "30m"))
        total = len(stream)
        minimum = limits.min_cacheable_tokens
        if limits.rounds_to_128:
            candidates = list(range(minimum - minimum % 128 or 128, total + 1, 128))
            writes: list[tuple[int, str]] = [(c, retention) for c in candidates]
        else:
            explicit = [(end, t) for end, t in stream.ends if t is not None]
            explicit = explicit[-(4 if mode == "explicit" else 3) :]
            writes = list(explicit)
            if mode == "implicit" and total:
                writes.append((total, ttl))
            candidates = sorted({end for end, _ in stream.ends})
        candidates = [c for c in candidates if c >= minimum]
        writes = sorted((c, r) for c, r in writes if c >= minimum)
        salt = f"{model}"
        hashes = stream.hashes(candidates + [c for c, _ in writes], salt)
        with self._lock:
            machine = self._route(request, stream, when)
            store = self._stores.setdefault(machine, {})
            cached = 0
            for c in sorted(candidates, reverse=True):
                entry = store.get(hashes[c])
                if entry is not None and self._alive(entry, when):
                    entry.last_used = when
                    cached = c
                    break
            written_by_ttl: dict[str, int] = {}
            done = cached
            for c, r in writes:
                key = hashes[c]
                entry = store.get(key)
                if entry is not None and self._alive(entry, when):
                    entry.last_used = when
                    continue
                store[key] = _Entry(created=when, last_used=when, retention=r)
                if c > done:
                    written_by_ttl[r] = written_by_ttl.get(r, 0) + c - done
                    done = c
            diagnostics = None
            if api == "responses" and limits.explicit_breakpoints:
                current = _Compared(settings=_settings_of(request), tokens=stream.tokens,
                                    reusable=done)
                diagnostics = self._diagnose(request, current, cached)
                if response_id is not None:
                    self._compared[response_id] = current
                    while len(self._compared) > _COMPARED_KEPT:
                        self._compared.popitem(last=False)
        write_tokens = sum(written_by_ttl.values()) if limits.explicit_breakpoints else 0
        usage = _usage(api, limits, total, cached, written_by_ttl, write_tokens, output_tokens)
        return OpenAICacheResult(
            usage=usage,
            prompt_tokens=total,
            cached_tokens=cached,
            cache_write_tokens=write_tokens,
            machine=machine,
            diagnostics=diagnostics,
        )


def _usage(
    api: Api,
    limits: ModelLimits,
    prompt: int,
    cached: int,
    by_ttl: Mapping[str, int],
    writes: int,
    output: int,
) -> dict[str, Any]:
    if api == "chat":
        details: dict[str, Any] = {"cached_tokens": cached, "audio_tokens": 0}
        if limits.explicit_breakpoints:
            details["cache_write_tokens"] = writes
        return {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": details,
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
    input_details: dict[str, Any] = {"cached_tokens": cached, "cache_write_tokens": writes}
    if limits.explicit_breakpoints:
        input_details["cache_write_tokens_details"] = {
            "ttl_30m_tokens": by_ttl.get("30m", 0),
            "ttl_12h_tokens": by_ttl.get("12h", 0),
        }
    return {
        "input_tokens": prompt,
        "input_tokens_details": input_details,
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }
