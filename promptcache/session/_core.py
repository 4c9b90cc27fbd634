"""The pure part of a chat session: history, planning, accounting and explanations, no I/O.

The sync and async sessions are thin shells around :class:`SessionCore`: ``prepare`` extends the
previous request's :class:`~promptcache.prompt.Prompt` by the new message (so digests, token
counts and prefix fingerprints of the history are never computed twice) and plans it, a provider
:class:`Adapter` renders it, the shell sends it with its client, and ``commit`` appends the reply,
records the cache writes and adds the usage to the session's :class:`~promptcache.usage.Ledger`.
Keeping every decision here means the providers, and the sync, async and streaming paths, cannot
drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from promptcache.blocks import Document, Layer, Reuse, Volatility
from promptcache.builder import PromptBuilder
from promptcache.errors import PromptError, RuleViolation
from promptcache.limits import ModelLimits, Provider
from promptcache.log import PlanWatch
from promptcache.otel import record_call
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.common import ProviderPlan
from promptcache.redact import redacted_repr
from promptcache.session._explain import Sent, edit_cost, explain_miss
from promptcache.session._history import blocks_of, check_history
from promptcache.session._settings import SessionSettings, listed, system_of
from promptcache.session._values import EditCost, MissReport, Reply, SessionStats, TurnUsage
from promptcache.session._wire import content_param, message_param
from promptcache.state import CacheState
from promptcache.usage import Ledger, Usage

__all__ = ["Adapter", "Parsed", "Pending", "Request", "SessionCore", "ToolResult", "check_history"]

ToolResult = str | Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A request planned but not yet answered (the history is unchanged until ``commit``)."""

    new_message: Mapping[str, Any]
    #: Length of the history the request extends (a commit on another history is refused).
    base: int
    #: For a regenerate: the length of the history it replaces the end of (the turns from
    #: ``base`` on are dropped when the new reply commits, not before).
    replaces: int | None = None
    prompt: Prompt
    #: The optimizer's plan where the session plans (Anthropic); None where the renderer does.
    plan: Plan | None
    fingerprints: tuple[str, ...]
    sent_at: float
    #: Wall-clock time of planning (epoch seconds): the start of the call's span.
    wall: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """A rendered request: the SDK keyword arguments and how it is cached."""

    #: Header values and credentials in ``kwargs`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    kwargs: dict[str, Any]
    plan: Plan | ProviderPlan
    #: Tokens the plan expects to read from cache.
    expected_read: int
    #: TTL of the cache entry that holds the conversation, in seconds.
    ttl_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """A provider response reduced to what the session keeps (filled by a provider adapter)."""

    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None
    message_id: str | None
    usage: Usage
    server_reason: str | None = None
    server_missed_tokens: int | None = None
    #: Served by promptcache's response cache: the call never reached the API.
    from_response_cache: bool = False
    raw: Any = field(default=None, repr=False, compare=False)


class Adapter(Protocol):
    """What the core needs from a provider: limits, planning and recording (no I/O)."""

    provider: Provider

    def limits(self, model: str, platform: Literal["api", "bedrock", "vertex"]) -> ModelLimits: ...

    def plan(self, prompt: Prompt, state: CacheState, now: float, limits: ModelLimits) -> Plan | None: ...

    def record(self, state: CacheState, pending: Pending, request: Request) -> None: ...


def _with_conversation(prompt: Prompt) -> Prompt:
    """``prompt`` with an (empty) SESSION conversation layer, so the first turn's question is
    planned as reused: a session expects further turns."""
    if prompt.layers and prompt.layers[-1].append_only:
        return prompt
    vol = Volatility.SESSION
    layer = Layer(name="conversation", section="messages", volatility=vol, reuse=vol.default_reuse,
                  start=len(prompt.blocks), stop=len(prompt.blocks), append_only=True)
    return Prompt(model=prompt.model, blocks=prompt.blocks, layers=(*prompt.layers, layer),
                  turns=prompt.turns, params=prompt.params, platform=prompt.platform)


class SessionCore:
    """History, planning and accounting of one conversation; the shells do the sending."""

    def __init__(self, adapter: Adapter, settings: SessionSettings) -> None:
        self.adapter = adapter
        #: What the session was created with (the editable parts below may have changed since).
        self.settings = settings
        self.model = settings.model
        self.platform = settings.platform
        self.tools: tuple[Mapping[str, Any], ...] = settings.tools
        self.system = settings.system
        self.documents: tuple[Document | Mapping[str, Any], ...] = settings.documents
        self.history: list[Mapping[str, Any]] = list(settings.history)
        self.params: dict[str, Any] = dict(settings.params)
        self.state = settings.state if settings.state is not None else CacheState(clock=settings.clock)
        self.limits = (settings.limits if settings.limits is not None
                       else adapter.limits(settings.model, settings.platform))
        self.diagnostics = settings.diagnostics
        self.replies: list[Reply] = []
        self.ledger = Ledger()
        #: Logs each plan and warns once per layer a decision costs money on (promptcache.log).
        self.watch = PlanWatch()
        self.served_from_cache = 0
        self._previous: Sent | None = None
        self._prompt = self.build(self.history)

    # -- building ------------------------------------------------------------------------------

    def build(self, messages: Sequence[Mapping[str, Any]], *,
              tools: Sequence[Mapping[str, Any]] | None = None,
              system: str | Sequence[Mapping[str, Any]] | None = None,
              documents: Sequence[Document | Mapping[str, Any]] | None = None) -> Prompt:
        """The whole Prompt for ``messages`` with the session's (or the given) parts.

        Used once at the start and after an edit; every send extends the previous Prompt instead.
        """
        b = PromptBuilder(self.model, platform=self.platform)
        b.add_tools(self.tools if tools is None else tools)
        sys_ = self.system if system is None else system
        if sys_:
            b.add_system(sys_)
        docs = self.documents if documents is None else documents
        if docs:
            b.add_documents(docs)
        b.add_messages(messages).conversation(volatility=Volatility.SESSION)
        b.set_params(**self.params)
        return _with_conversation(b.build())

    @property
    def prompt(self) -> Prompt:
        """The Prompt of the history so far (what the next request extends)."""
        return self._prompt

    def prepare(self, new_message: Mapping[str, Any]) -> Pending:
        """Plan the request that appends ``new_message`` to the history (history unchanged yet)."""
        base = len(self.history)
        check_history([*self.history[-1:], new_message], start=max(0, base - 1))
        prompt = self._prompt.extend([new_message])
        now = self.state.now()
        plan = self.adapter.plan(prompt, self.state, now, self.limits)
        if plan is not None:
            self.watch.seen(plan, provider=self.adapter.provider, model=self.model)
        fps = plan.fingerprints if plan is not None and plan.fingerprints else prompt.fingerprints
        return Pending(new_message=new_message, base=base, prompt=prompt, plan=plan,
                       fingerprints=fps, sent_at=now)

    def regenerate(self) -> Pending:
        """Plan the last request again: the last user turn, without the reply it got.

        The history changes only when the new reply commits (the old reply is then dropped), so
        a failed regenerate leaves the session as it was. The request has the same prefix as the
        one it repeats: it reads the cache that one wrote.
        """
        end = len(self.history)
        if end and self.history[-1].get("role") == "assistant":
            end -= 1
        if end == 0 or self.history[end - 1].get("role") != "user":
            raise PromptError("regenerate(): the history has no user turn to send again; send "
                              "one first.", path=f"messages[{max(end - 1, 0)}]")
        base = end - 1
        message = self.history[base]
        prompt = self.build(self.history[:base]).extend([message])
        now = self.state.now()
        plan = self.adapter.plan(prompt, self.state, now, self.limits)
        fps = plan.fingerprints if plan is not None and plan.fingerprints else prompt.fingerprints
        return Pending(new_message=message, base=base, replaces=len(self.history), prompt=prompt,
                       plan=plan, fingerprints=fps, sent_at=now)

    def user_message(self, content: str | Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        if isinstance(content, str):
            if not content.strip():
                raise PromptError("send(): the user message is empty; the API rejects it.",
                                  path=f"messages[{len(self.history)}]")
            return {"role": "user", "content": content}
        if isinstance(content, bytes | Mapping) or not isinstance(content, Sequence):
            raise PromptError(f"send(): the user message must be a string or a list of content "
                              f"blocks (got {type(content).__name__}).",
                              path=f"messages[{len(self.history)}].content")
        return {"role": "user", "content": [content_param(b, keep_dicts=True) for b in content]}

    def tool_results_message(
        self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
        is_error: Mapping[str, bool] | None = None,
    ) -> Mapping[str, Any]:
        """The user turn answering the last assistant turn's tool calls, in their order.

        ``results`` maps each tool call id to its output (a string or content blocks), or is a
        list of ready ``tool_result`` blocks. Only tool results are added, so the cached prefix,
        thinking blocks included, stays valid.
        """
        path = f"messages[{len(self.history)}]"
        last = self.history[-1] if self.history else None
        if last is None or last.get("role") != "assistant":
            raise RuleViolation(f"{path}: tool results must answer an assistant turn with tool "
                                "calls, but the history does not end with one.",
                                path=path, rule="tool-result-pairing")
        ids = [str(b.get("id")) for b in blocks_of(last) if b.get("type") == "tool_use"]
        if not isinstance(results, Mapping):
            return {"role": "user", "content": [content_param(b, keep_dicts=True) for b in results]}
        unknown = [k for k in results if k not in ids]
        missing = [k for k in ids if k not in results]
        if unknown or missing:
            raise RuleViolation(
                f"{path}: tool results must answer exactly the tool calls {ids}; "
                f"missing {missing}, unknown {unknown}.", path=path, rule="tool-result-pairing")
        errors = is_error or {}
        blocks: list[Mapping[str, Any]] = []
        for tool_id in ids:
            out = results[tool_id]
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id,
                                     "content": out if isinstance(out, str) else list(out)}
            if errors.get(tool_id):
                block["is_error"] = True
            blocks.append(block)
        return {"role": "user", "content": blocks}

    # -- after the response ------------------------------------------------------------------------

    def commit(self, pending: Pending, request: Request, parsed: Parsed) -> Reply:
        """Append the exchange, record the cache writes, add the usage up, explain any miss."""
        expected = pending.base if pending.replaces is None else pending.replaces
        if expected != len(self.history):
            raise PromptError("commit(): the history changed while the request was in flight; "
                              "send on one session from one task at a time.")
        del self.history[pending.base:]
        self.history.append(pending.new_message)
        prompt = pending.prompt
        if parsed.content:
            assistant = {"role": "assistant", "content": [dict(b) for b in parsed.content]}
            self.history.append(assistant)
            prompt = prompt.extend([assistant])
        self._prompt = prompt
        if parsed.from_response_cache:
            # Nothing reached the API: nothing was billed, nothing written, no gap to learn from.
            self.served_from_cache += 1
            usage = TurnUsage(provider=self.adapter.provider, model=self.model)
            reply = Reply(content=parsed.content, stop_reason=parsed.stop_reason,
                          message_id=parsed.message_id, usage=usage, plan=request.plan,
                          cost_usd=0.0 if self.limits.input_price is not None else None,
                          from_response_cache=True, raw=parsed.raw)
            self.replies.append(reply)
            return reply
        miss = self._miss(pending, request, parsed)
        self.adapter.record(self.state, pending, request)
        usage = TurnUsage.of(parsed.usage)
        if isinstance(request.plan, Plan) and self.adapter.provider == "anthropic":
            # What the provider read teaches the state what it could not see itself.
            self.state.record_read(pending.prompt, request.plan, usage.cache_read_tokens,
                                   self.state.now(), total=usage.total_input_tokens)
        if not usage.model:
            usage = TurnUsage(provider=usage.provider, model=self.model, input_tokens=usage.input_tokens,
                              cache_read_tokens=usage.cache_read_tokens,
                              cache_writes=usage.cache_writes, output_tokens=usage.output_tokens)
        self._previous = Sent(prompt=pending.prompt, fingerprints=pending.fingerprints,
                              message_id=parsed.message_id, sent_at=pending.sent_at,
                              cached_tokens=usage.cache_read_tokens + usage.cache_write_tokens,
                              ttl_seconds=request.ttl_seconds)
        plan = request.plan if isinstance(request.plan, Plan) else request.plan.base
        record = self.ledger.record(usage, self.limits, plan=plan, planned=True,
                                    miss_reason=None if miss is None else miss.reason)
        record_call(record, method="session.send", started_at=pending.wall, plan=plan)
        cost = record.cost
        reply = Reply(content=parsed.content, stop_reason=parsed.stop_reason,
                      message_id=parsed.message_id, usage=usage, plan=request.plan, miss=miss,
                      cost_usd=cost.billed if self.limits.input_price is not None else None,
                      raw=parsed.raw)
        self.replies.append(reply)
        return reply

    @property
    def previous_message_id(self) -> str | None:
        return self._previous.message_id if self._previous is not None else None

    @property
    def stats(self) -> SessionStats:
        return SessionStats.of(self.ledger.totals(), provider=self.adapter.provider,
                               model=self.model, priced=self.limits.input_price is not None,
                               served_from_cache=self.served_from_cache)

    def pace(self) -> Reuse:
        """The conversation's reuse as observed so far (gaps between this session's requests)."""
        return self.state.observed_reuse("conversation", Volatility.SESSION.default_reuse)

    def _miss(self, pending: Pending, request: Request, parsed: Parsed) -> MissReport | None:
        prev = self._previous
        actual = parsed.usage.cache_read_tokens
        lost = prev is not None and actual < prev.cached_tokens
        if not lost and parsed.server_reason is None:
            return None
        changed_path = changed_layer = None
        if prev is None:
            explanation = "this is the session's first request."
        else:
            explanation, changed_path, changed_layer = explain_miss(
                prev, pending.prompt, pending.fingerprints, pending.sent_at)
        return MissReport(server_reason=parsed.server_reason,
                          server_missed_tokens=parsed.server_missed_tokens,
                          changed_path=changed_path, changed_layer=changed_layer,
                          expected_read=request.expected_read, actual_read=actual,
                          explanation=explanation)

    # -- edits -------------------------------------------------------------------------------------

    def edit(self, *, history: Sequence[Mapping[str, Any]] | None = None,
             tools: Sequence[Mapping[str, Any]] | None = None,
             system: str | Sequence[Mapping[str, Any]] | None = None,
             documents: Sequence[Document | Mapping[str, Any]] | None = None,
             apply: bool = True) -> EditCost:
        """Change the history, tools, system or documents; return what it costs in cache.

        The cost is the tokens from the first changed block to the end of the history, which the
        next request writes again instead of reading.
        """
        given = self.history if history is None else listed(history, "history")
        new_history = [message_param(m) for m in given]
        try:
            check_history(new_history)
        except RuleViolation as e:
            # Refused at the edit, with the history unchanged: accepted, it would make every
            # later send fail with the same violation, and the session would be stuck.
            raise PromptError(f"This edit would leave the history unsendable: {e}",
                              path=e.path) from e
        tools = None if tools is None else listed(tools, "tools")
        system = system_of(system)
        documents = None if documents is None else listed(documents, "documents")
        after = self.build(new_history, tools=tools, system=system, documents=documents)
        cost = edit_cost(self._prompt, after, self.limits)
        if apply:
            self.history = new_history
            if tools is not None:
                self.tools = tools
            if system is not None:
                self.system = system
            if documents is not None:
                self.documents = documents
            self._prompt = after
        return cost
