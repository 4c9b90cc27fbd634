"""The session's Gemini edge: ``generate_content`` with the explicit cache managed for it.

Each request goes through :class:`promptcache.gemini.GeminiCacheManager` (or its async twin),
which weighs an explicit ``cachedContents`` resource for the stable prefix (tools, system,
documents) against implicit caching, finds or creates and extends it, and renders the request
that names it. The session closes the caches it created when it is closed. Replies come back as
the session's content blocks: text, and ``tool_use`` for each ``function_call``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal

from promptcache.clock import Clock
from promptcache.limits import ModelLimits, Provider, limits_for
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.common import Rendered
from promptcache.providers.gemini.cache import AsyncGeminiCacheManager, GeminiCacheManager
from promptcache.providers.gemini.render import IMPLICIT_WINDOW, ttl_seconds
from promptcache.providers.gemini.usage import usage_from_gemini
from promptcache.session._core import Parsed, Pending, Request
from promptcache.session._wire import dump, get, served_from_cache
from promptcache.state import CacheState

__all__ = ["GeminiAdapter", "for_session", "parse_generate"]

_FINISH = {"STOP": "end_turn", "MAX_TOKENS": "max_tokens"}


def _parts(response: Any) -> list[Any]:
    candidates = get(response, "candidates", ())
    content = get(candidates[0], "content", {}) if candidates else {}
    return list(get(content, "parts", ()))


def _finish(response: Any) -> Any:
    candidates = get(response, "candidates", ())
    return get(candidates[0], "finish_reason", get(candidates[0], "finishReason")) if candidates else None


def _blocks(parts: list[Any], ident: str | None) -> list[dict[str, Any]]:
    """Text and function-call parts as blocks; thought summaries are not part of the history."""
    out: list[dict[str, Any]] = []
    for part in parts:
        call = get(part, "function_call", get(part, "functionCall"))
        if call is not None:
            # Gemini may leave the id out; the tool_result must still name its call.
            call_id = get(call, "id") or f"call_{ident or 'gemini'}_{len(out)}"
            out.append({"type": "tool_use", "id": str(call_id), "name": get(call, "name"),
                        "input": dict(dump(get(call, "args", {})))})
        elif get(part, "text") is not None and not get(part, "thought", False):
            if out and out[-1]["type"] == "text":
                out[-1]["text"] += str(get(part, "text"))
            else:
                out.append({"type": "text", "text": str(get(part, "text"))})
    return out


def _stop(blocks: list[dict[str, Any]], finish: Any) -> str | None:
    if any(b["type"] == "tool_use" for b in blocks):
        return "tool_use"
    name = getattr(finish, "value", finish)
    return _FINISH.get(str(name), str(name).lower()) if name is not None else None


def parse_generate(response: Any, model: str = "") -> Parsed:
    """A ``GenerateContentResponse`` (object or dict) as blocks, with its usage."""
    ident = get(response, "response_id", get(response, "responseId"))
    blocks = _blocks(_parts(response), ident)
    return Parsed(content=tuple(blocks), stop_reason=_stop(blocks, _finish(response)),
                  message_id=ident, usage=usage_from_gemini(response, model=model or None),
                  from_response_cache=served_from_cache(response), raw=response)


class GeminiStream:
    """Builds the reply from ``generate_content_stream`` chunks (usage from the last one)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[Any] = []
        self.last: Any = None
        self.finish: Any = None
        self.ident: str | None = None

    def feed(self, chunk: Any) -> str | None:
        self.last = chunk
        self.ident = self.ident or get(chunk, "response_id", get(chunk, "responseId"))
        self.finish = _finish(chunk) or self.finish
        parts = _parts(chunk)
        self.parts.extend(parts)
        texts = [str(get(p, "text")) for p in parts
                 if get(p, "text") is not None and not get(p, "thought", False)]
        return "".join(texts) or None

    def result(self, stream: Any) -> Parsed:
        blocks = _blocks(self.parts, self.ident)
        usage = usage_from_gemini(self.last if self.last is not None else {}, model=self.model)
        return Parsed(content=tuple(blocks), stop_reason=_stop(blocks, self.finish),
                      message_id=self.ident, usage=usage,
                      from_response_cache=served_from_cache(stream), raw=self.last)


class GeminiAdapter:
    """Renders through a cache manager; ``client`` is a ``google.genai.Client``."""

    provider: Provider = "gemini"

    def __init__(self, client: Any, *, asynchronous: bool, clock: Clock | None) -> None:
        self.manager: GeminiCacheManager | None = None
        self.amanager: AsyncGeminiCacheManager | None = None
        # A dropped piece of the history is told once, never as an error: it must not fail a turn.
        if asynchronous:
            self.amanager = AsyncGeminiCacheManager(client, clock=clock, on_dropped="once")
        else:
            self.manager = GeminiCacheManager(client, clock=clock, on_dropped="once")

    def limits(self, model: str, platform: Literal["api", "bedrock", "vertex"]) -> ModelLimits:
        return limits_for(model, provider="gemini")

    def plan(self, prompt: Prompt, state: CacheState, now: float, limits: ModelLimits) -> Plan | None:
        return None  # the cache manager decides: explicit cache or implicit caching

    @staticmethod
    def _request(rendered: Rendered) -> Request:
        plan = rendered.plan
        ttl = ttl_seconds(plan.settings["ttl"]) if "ttl" in plan.settings else IMPLICIT_WINDOW
        return Request(kwargs=dict(rendered.kwargs), plan=plan,
                       expected_read=plan.cached_prefix_tokens, ttl_seconds=ttl)

    def render(self, pending: Pending, *, previous_message_id: str | None,
               diagnostics: bool) -> Request:
        assert self.manager is not None, "a sync session has a sync cache manager"
        return self._request(self.manager.prepare(pending.prompt, model=pending.prompt.model))

    async def arender(self, pending: Pending, *, previous_message_id: str | None,
                      diagnostics: bool) -> Request:
        assert self.amanager is not None, "an async session has an async cache manager"
        rendered = await self.amanager.prepare(pending.prompt, model=pending.prompt.model)
        return self._request(rendered)

    def record(self, state: CacheState, pending: Pending, request: Request) -> None:
        state.observe(pending.prompt, pending.fingerprints, pending.sent_at)

    # -- the client calls ---------------------------------------------------------------------

    def create(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return client.models.generate_content(**kwargs)

    async def acreate(self, client: Any, kwargs: Mapping[str, Any]) -> Any:
        return await client.aio.models.generate_content(**kwargs)

    def open_stream(self, client: Any, kwargs: Mapping[str, Any]) -> Iterator[Any]:
        stream: Iterator[Any] = client.models.generate_content_stream(**kwargs)
        return stream

    async def aopen_stream(self, client: Any, kwargs: Mapping[str, Any]) -> AsyncIterator[Any]:
        stream: AsyncIterator[Any] = await client.aio.models.generate_content_stream(**kwargs)
        return stream

    def accumulator(self, model: str = "") -> GeminiStream:
        return GeminiStream(model)

    def parse(self, response: Any) -> Parsed:
        return parse_generate(response)

    def recover(self, error: BaseException) -> bool:
        """True (and the cache memo forgotten) when ``error`` says the cache the request named is
        gone (expired or deleted elsewhere, HTTP 403/404): render again, which recreates it."""
        if getattr(error, "code", None) not in (403, 404):
            return False
        for manager in (self.manager, self.amanager):
            if manager is not None:
                manager.known.clear()
        return True

    def close(self) -> None:
        """Delete the explicit caches this session created (storage stops accruing)."""
        if self.manager is not None:
            self.manager.close()

    async def aclose(self) -> None:
        if self.amanager is not None:
            await self.amanager.close()

    @staticmethod
    def is_sdk_error(error: BaseException) -> bool:
        return type(error).__module__.startswith("google")


def for_session(client: Any, *, asynchronous: bool, api: str | None, clock: Any) -> GeminiAdapter:
    """The adapter a ChatSession on ``client`` uses (named by the provider registry's spec)."""
    return GeminiAdapter(client, asynchronous=asynchronous, clock=clock)
