"""What the sync and async sessions share besides the core: construction, properties and edits.

No I/O here either; the subclasses add only the calls to their client. The client decides the
provider adapter: ``anthropic`` (also Bedrock and Vertex), ``openai`` (chat completions, or the
responses API with ``api="responses"``) or ``google.genai``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

from promptcache.blocks import Document, Reuse
from promptcache.clock import Clock
from promptcache.errors import ProviderError, RuleViolation
from promptcache.limits import ModelLimits, Platform, Provider
from promptcache.prompt import Prompt
from promptcache.providers.registry import ProviderSpec, spec_for_client
from promptcache.session._core import Adapter, Parsed, Pending, Request, SessionCore, ToolResult
from promptcache.session._settings import SessionSettings
from promptcache.session._values import EditCost, Reply, SessionStats, ToolCall
from promptcache.state import CacheState

__all__ = ["Accumulator", "SessionBase", "Wire", "adapter_for", "run_reply"]


class Accumulator(Protocol):
    def feed(self, event: Any) -> str | None: ...

    def result(self, stream: Any) -> Parsed: ...


class Wire(Adapter, Protocol):
    """An adapter with its client calls: what the sync and async shells use."""

    def render(self, pending: Pending, *, previous_message_id: str | None,
               diagnostics: bool) -> Request: ...

    async def arender(self, pending: Pending, *, previous_message_id: str | None,
                      diagnostics: bool) -> Request: ...

    def create(self, client: Any, kwargs: Mapping[str, Any]) -> Any: ...

    async def acreate(self, client: Any, kwargs: Mapping[str, Any]) -> Any: ...

    def open_stream(self, client: Any, kwargs: Mapping[str, Any]) -> Iterator[Any]: ...

    async def aopen_stream(self, client: Any, kwargs: Mapping[str, Any]) -> AsyncIterator[Any]: ...

    def accumulator(self) -> Accumulator: ...

    def parse(self, response: Any) -> Parsed: ...

    @staticmethod
    def is_sdk_error(error: BaseException) -> bool: ...


def _spec(client: Any) -> ProviderSpec:
    spec = spec_for_client(client)
    if spec is None:
        cls = type(client)
        raise ProviderError(
            f"ChatSession: a {cls.__module__}.{cls.__name__} client is not supported. Pass an "
            "anthropic (Anthropic, AnthropicBedrock, AnthropicVertex), openai (OpenAI) or "
            "google-genai (genai.Client) client, or their async twins with AsyncChatSession.")
    return spec


def adapter_for(client: Any, *, asynchronous: bool, api: Literal["chat", "responses"] | None,
                clock: Clock | None) -> tuple[Wire, Platform]:
    """The provider adapter for ``client``; a sync client in an async session (or the reverse)
    is refused with the fix, rather than failing on the first send."""
    spec = _spec(client)
    is_async = spec.is_async(client)
    session = "AsyncChatSession" if asynchronous else "ChatSession"
    if not spec.async_attribute and is_async != asynchronous:
        other = "AsyncChatSession" if is_async else "ChatSession"
        raise ProviderError(f"{session} was given a {type(client).__name__}, which is "
                            f"{'async' if is_async else 'sync'}: use {other} with it.")
    if api is not None and api not in spec.session_apis:
        raise ProviderError(f"{session}(api={api!r}) applies to OpenAI clients only.")
    make: Any = spec.session_adapter.load()
    wire: Wire = make(client, asynchronous=asynchronous, api=api, clock=clock)
    return wire, spec.platform_of(client)


class SessionBase:
    """Holds the tools, system, documents and history of one conversation with one model.

    Each send extends the previous request's Prompt by the new turn and plans it against the
    session's :class:`CacheState` (pass ``state=`` to share one across sessions): on Anthropic the
    conversation breakpoint moves to the newest turn while the tool, system and document
    breakpoints stay, within the provider's 4 breakpoints and 20-block lookback, and the TTL
    follows the user's pace; on OpenAI the stable prefix leads and routes the request
    (``prompt_cache_key``); on Gemini an explicit cache holds the stable prefix when it pays.
    """

    _asynchronous = False

    def __init__(
        self,
        client: Any,
        *,
        model: str,
        tools: Iterable[Mapping[str, Any]] = (),
        system: str | Iterable[Mapping[str, Any]] | None = None,
        documents: Iterable[Document | Mapping[str, Any]] = (),
        history: Iterable[Mapping[str, Any]] = (),
        max_tokens: int = 1024,
        params: Mapping[str, Any] | None = None,
        state: CacheState | None = None,
        clock: Clock | None = None,
        limits: ModelLimits | None = None,
        diagnostics: bool = True,
        platform: Platform | None = None,
        api: Literal["chat", "responses"] | None = None,
    ) -> None:
        self.client = client
        clock = clock if clock is not None else (state.clock if state is not None else None)
        self.adapter, detected = adapter_for(client, asynchronous=self._asynchronous, api=api,
                                             clock=clock)
        self.provider: Provider = self.adapter.provider
        settings = SessionSettings.of(
            model=model, tools=tools, system=system, documents=documents, history=history,
            max_tokens=max_tokens, params=params, state=state, clock=clock, limits=limits,
            diagnostics=diagnostics and self.provider == "anthropic", platform=platform or detected)
        self.core = SessionCore(self.adapter, settings)

    # -- what the session knows -------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.core.model

    @property
    def history(self) -> tuple[Mapping[str, Any], ...]:
        """The conversation as content blocks (Anthropic shape on every provider)."""
        return tuple(self.core.history)

    @property
    def prompt(self) -> Prompt:
        """The Prompt of the conversation so far: what the next request extends."""
        return self.core.prompt

    @property
    def replies(self) -> tuple[Reply, ...]:
        return tuple(self.core.replies)

    @property
    def stats(self) -> SessionStats:
        return self.core.stats

    @property
    def state(self) -> CacheState:
        return self.core.state

    @property
    def pending_tool_calls(self) -> Sequence[ToolCall]:
        """Tool calls of the last reply still waiting for results (empty when none)."""
        last = self.core.replies[-1] if self.core.replies else None
        if last is None or not self.core.history or self.core.history[-1].get("role") != "assistant":
            return ()
        return last.tool_calls

    def pace(self) -> Reuse:
        """The gaps observed between this session's requests (the input of every TTL choice)."""
        return self.core.pace()

    # -- edits ---------------------------------------------------------------------------------------

    def edit(self, *, history: Sequence[Mapping[str, Any]] | None = None,
             tools: Sequence[Mapping[str, Any]] | None = None,
             system: str | Sequence[Mapping[str, Any]] | None = None,
             documents: Sequence[Document | Mapping[str, Any]] | None = None) -> EditCost:
        """Replace any of the parts; returns the tokens and dollars the change costs in cache."""
        return self.core.edit(history=history, tools=tools, system=system, documents=documents)

    def estimate_edit(self, **changes: Any) -> EditCost:
        """What :meth:`edit` with the same arguments would cost, without applying it."""
        return self.core.edit(**changes, apply=False)

    def remove_turn(self, index: int) -> EditCost:
        """Remove ``history[index]``; a tool_use turn and its results must go together."""
        history = list(self.core.history)
        self._check_index(index, history)
        del history[index]
        return self.edit(history=history)

    def replace_turn(self, index: int, content: str | Sequence[Mapping[str, Any]]) -> EditCost:
        """Rewrite the content of ``history[index]`` (same role)."""
        history = list(self.core.history)
        self._check_index(index, history)
        history[index] = {"role": history[index]["role"],
                          "content": content if isinstance(content, str) else list(content)}
        return self.edit(history=history)

    def set_tools(self, tools: Sequence[Mapping[str, Any]]) -> EditCost:
        return self.edit(tools=tools)

    def set_system(self, system: str | Sequence[Mapping[str, Any]]) -> EditCost:
        return self.edit(system=system)

    def set_documents(self, documents: Sequence[Document | Mapping[str, Any]]) -> EditCost:
        return self.edit(documents=documents)

    @staticmethod
    def _check_index(index: int, history: Sequence[Any]) -> None:
        if not -len(history) <= index < len(history):
            raise RuleViolation(f"messages[{index}]: the history has only {len(history)} messages.",
                                path=f"messages[{index}]", rule="history-index")

    # -- shared by the shells ----------------------------------------------------------------------

    def _user(self, content: str | Sequence[Mapping[str, Any]]) -> Pending:
        return self.core.prepare(self.core.user_message(content))

    def _results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]],
                 is_error: Mapping[str, bool] | None) -> Pending:
        return self.core.prepare(self.core.tool_results_message(results, is_error=is_error))

    def _render_args(self) -> dict[str, Any]:
        return {"previous_message_id": self.core.previous_message_id,
                "diagnostics": self.core.diagnostics}

    def _recoverable(self, error: BaseException, request: Request) -> bool:
        """An error a fresh render fixes: a Gemini cache named by the request was gone."""
        recover = getattr(self.adapter, "recover", None)
        mode = getattr(request.plan, "mode", None)
        return recover is not None and mode == "explicit" and bool(recover(error))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r}, "
                f"messages={len(self.core.history)}, {self.stats.summary()})")


def run_reply(steps: Sequence[Reply]) -> Reply:
    """The reply of a whole tool loop: the last answer, with the usage and cost of every step."""
    last = steps[-1]
    if len(steps) == 1:
        return last
    usage = steps[0].usage
    for step in steps[1:]:
        usage = usage + step.usage
    costs = [s.cost_usd for s in steps]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    return Reply(content=last.content, stop_reason=last.stop_reason, message_id=last.message_id,
                 usage=usage, plan=last.plan, miss=last.miss, cost_usd=cost,
                 from_response_cache=all(s.from_response_cache for s in steps),
                 steps=tuple(steps), raw=last.raw)
