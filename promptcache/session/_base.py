"""What the sync and async sessions share besides the core: construction, properties and edits.

No I/O here either; the subclasses add only the calls to their client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from promptcache.blocks import Document, Reuse
from promptcache.clock import Clock
from promptcache.errors import ProviderError, RuleViolation
from promptcache.limits import ModelLimits
from promptcache.session._anthropic import request_kwargs
from promptcache.session._core import Pending, SessionCore, ToolResult
from promptcache.session._values import EditCost, Reply, SessionStats, ToolCall
from promptcache.state import CacheState

__all__ = ["SessionBase"]


def _provider_of(client: Any) -> str:
    """``anthropic`` for the SDK's clients (Anthropic, AsyncAnthropic, Bedrock, Vertex)."""
    module = type(client).__module__
    if module.startswith("anthropic"):
        return "anthropic"
    raise ProviderError(
        f"ChatSession: a {type(client).__module__}.{type(client).__name__} client is not supported "
        "yet. Pass an anthropic.Anthropic / AsyncAnthropic client; OpenAI and Gemini sessions "
        "plug in here once promptcache.providers.openai.render / gemini render a Plan."
    )


class SessionBase:
    """Holds the tools, system, documents and history of one conversation with one model.

    Each send builds the request with PromptBuilder and plans it with ``optimize`` against the
    session's :class:`CacheState` (pass ``state=`` to share one across sessions): the conversation
    breakpoint moves to the newest turn while the tool, system and document breakpoints stay, within
    the provider's 4 breakpoints and 20-block lookback. The state also records the gaps between
    requests, so the TTL follows the user's pace: replies more than 5 minutes apart earn a 1h TTL.
    """

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
        platform: Literal["api", "bedrock", "vertex"] = "api",
    ) -> None:
        self.client = client
        self.provider = _provider_of(client)
        self.core = SessionCore(model=model, tools=tools, system=system, documents=documents,
                                history=history, max_tokens=max_tokens, params=params, state=state,
                                clock=clock, limits=limits, diagnostics=diagnostics,
                                platform=platform)

    # -- what the session knows -------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.core.model

    @property
    def history(self) -> tuple[Mapping[str, Any], ...]:
        """The conversation in Anthropic message shape, replies included as the API returned them."""
        return tuple(self.core.history)

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

    # -- planning shared by the shells ---------------------------------------------------------------

    def _plan_user(self, content: str | Sequence[Mapping[str, Any]]) -> tuple[Pending, dict[str, Any]]:
        return self._with_kwargs(self.core.prepare(self.core.user_message(content)))

    def _plan_results(self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]],
                      is_error: Mapping[str, bool] | None) -> tuple[Pending, dict[str, Any]]:
        message = self.core.tool_results_message(results, is_error=is_error)
        return self._with_kwargs(self.core.prepare(message))

    def _with_kwargs(self, pending: Pending) -> tuple[Pending, dict[str, Any]]:
        kwargs = request_kwargs(pending, previous_message_id=self.core.previous_message_id,
                                diagnostics=self.core.diagnostics)
        return pending, kwargs

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.model!r}, messages={len(self.core.history)}, "
                f"{self.stats.summary()})")


def sdk_error(e: BaseException, model: str) -> ProviderError | None:
    """Our ProviderError for an exception the provider SDK raised (None for anything else)."""
    if not type(e).__module__.startswith("anthropic"):
        return None
    status = getattr(e, "status_code", None)
    where = f"HTTP {status}" if status is not None else type(e).__name__
    return ProviderError(f"messages.create for {model!r} failed ({where}): {e}. The session's "
                         "history is unchanged; fix the cause and send again.")
