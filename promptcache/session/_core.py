"""The pure part of a chat session: history, planning, accounting and explanations, no I/O.

The sync and async sessions are thin shells around :class:`SessionCore`: ``prepare`` builds the
next request (PromptBuilder + optimize, with the session's CacheState), the shell sends it with
its client, and ``commit`` appends the reply, records the cache writes and updates the statistics.
Keeping every decision here means the sync, async and streaming paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptcache.blocks import Document, Reuse, Volatility
from promptcache.builder import PromptBuilder
from promptcache.clock import Clock
from promptcache.errors import PromptError, RuleViolation
from promptcache.limits import ModelLimits, limits_for
from promptcache.optimizer import optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent
from promptcache.session._values import EditCost, MissReport, Reply, SessionStats, TurnUsage
from promptcache.state import CacheState

__all__ = ["Parsed", "Pending", "SessionCore", "check_history"]

ToolResult = str | Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A request planned but not yet answered: the history it carries and how it is cached."""

    messages: tuple[Mapping[str, Any], ...]
    prompt: Prompt
    plan: Plan
    fingerprints: tuple[str, ...]
    sent_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """A provider response reduced to what the session keeps (filled by a provider adapter)."""

    content: tuple[Mapping[str, Any], ...]
    stop_reason: str | None
    message_id: str | None
    usage: TurnUsage
    server_reason: str | None = None
    server_missed_tokens: int | None = None
    raw: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    prompt: Prompt
    fingerprints: tuple[str, ...]
    message_id: str | None
    sent_at: float
    #: Tokens the provider held in cache once this request ran (read + written).
    cached_tokens: int
    #: The longest TTL among the request's breakpoints (for the expiry explanation).
    ttl_seconds: float


def check_history(messages: Sequence[Mapping[str, Any]]) -> None:
    """Raise when a tool_use is not answered by a tool_result in the next user message.

    The Messages API rejects such a history with a 400; catching it here names the message.
    """
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        ids = [b.get("id") for b in _blocks(message) if b.get("type") == "tool_use"]
        if not ids or i == len(messages) - 1:
            continue
        following = messages[i + 1]
        answered = {b.get("tool_use_id") for b in _blocks(following)
                    if b.get("type") == "tool_result"} if following.get("role") == "user" else set()
        missing = [x for x in ids if x not in answered]
        if missing:
            raise RuleViolation(
                f"messages[{i + 1}]: the tool_use blocks {missing} of messages[{i}] have no "
                "tool_result in the next user message; the API rejects the history. Answer every "
                "tool call (send_tool_results) or remove both turns.",
                path=f"messages[{i + 1}]", rule="tool-result-pairing",
            )


def _blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or () if isinstance(b, Mapping)]


def _first_difference(before: tuple[str, ...], after: tuple[str, ...]) -> int | None:
    """Index of the first position whose prefix fingerprint differs; None if one extends the other."""
    for i, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            return i
    return None if len(after) >= len(before) else len(after)


class SessionCore:
    """History, planning and accounting of one conversation; the shells do the sending."""

    def __init__(
        self,
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
        self.model = model
        self.platform = platform
        self.tools: tuple[Mapping[str, Any], ...] = tuple(tools)
        self.system = system if system is None or isinstance(system, str) else tuple(system)
        self.documents: tuple[Document | Mapping[str, Any], ...] = tuple(documents)
        self.history: list[Mapping[str, Any]] = list(history)
        check_history(self.history)
        self.params: dict[str, Any] = {"max_tokens": max_tokens, **(params or {})}
        self.state = state if state is not None else CacheState(clock=clock)
        self.limits = limits if limits is not None else limits_for(model, provider="anthropic",
                                                                  platform=platform)
        self.diagnostics = diagnostics
        self.replies: list[Reply] = []
        self._previous: _Sent | None = None
        self._totals = TurnUsage()
        self._cost: float | None = 0.0 if self.limits.input_price is not None else None
        self._uncached: float | None = self._cost

    # -- building ------------------------------------------------------------------------------

    def build(self, messages: Sequence[Mapping[str, Any]], *,
              tools: Sequence[Mapping[str, Any]] | None = None,
              system: str | Sequence[Mapping[str, Any]] | None = None,
              documents: Sequence[Document | Mapping[str, Any]] | None = None) -> Prompt:
        """The Prompt for ``messages`` with the session's (or the given) tools, system, documents."""
        b = PromptBuilder(self.model, platform=self.platform)
        b.add_tools(self.tools if tools is None else tools)
        sys_ = self.system if system is None else system
        if sys_:
            b.add_system(sys_)
        docs = self.documents if documents is None else documents
        if docs:
            b.add_documents(docs)
        # A session expects further turns: plan the conversation as reused even on turn one.
        b.add_messages(messages).conversation(volatility=Volatility.SESSION)
        b.set_params(**self.params)
        return b.build()

    def prepare(self, new_message: Mapping[str, Any]) -> Pending:
        """Plan the request that appends ``new_message`` to the history (history unchanged yet)."""
        messages = (*self.history, new_message)
        check_history(messages)
        prompt = self.build(messages)
        now = self.state.now()
        plan = optimize(prompt, state=self.state, now=now, limits=self.limits)
        fps = plan.fingerprints or prompt.fingerprints
        return Pending(messages=messages, prompt=prompt, plan=plan, fingerprints=fps, sent_at=now)

    def user_message(self, content: str | Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        if isinstance(content, str):
            if not content.strip():
                raise PromptError("send(): the user message is empty; the API rejects it.",
                                  path=f"messages[{len(self.history)}]")
            return {"role": "user", "content": content}
        return {"role": "user", "content": list(content)}

    def tool_results_message(
        self, results: Mapping[str, ToolResult] | Sequence[Mapping[str, Any]], *,
        is_error: Mapping[str, bool] | None = None,
    ) -> Mapping[str, Any]:
        """The user turn answering the last assistant turn's tool calls, in their order.

        ``results`` maps each tool_use id to its output (a string or content blocks), or is a list
        of ready ``tool_result`` blocks. Only tool results are added, so the cached prefix, thinking
        blocks included, stays valid.
        """
        path = f"messages[{len(self.history)}]"
        last = self.history[-1] if self.history else None
        if last is None or last.get("role") != "assistant":
            raise RuleViolation(f"{path}: tool results must answer an assistant turn with tool_use "
                                "blocks, but the history does not end with one.",
                                path=path, rule="tool-result-pairing")
        ids = [str(b.get("id")) for b in _blocks(last) if b.get("type") == "tool_use"]
        if isinstance(results, Mapping):
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
        else:
            blocks = list(results)
        return {"role": "user", "content": blocks}

    # -- after the response ------------------------------------------------------------------------

    def commit(self, pending: Pending, parsed: Parsed) -> Reply:
        """Append the exchange, record the cache writes, update the statistics, explain any miss."""
        miss = self._miss(pending, parsed)
        self.history = [*pending.messages]
        if parsed.content:
            self.history.append({"role": "assistant", "content": [dict(b) for b in parsed.content]})
        # The response has arrived, so it has started: its writes are readable at once.
        record_sent(self.state, pending.prompt, pending.plan, response_started=True)
        ttls = [p.ttl for p in pending.plan.placements]
        ttl_seconds = 3600.0 if "1h" in ttls else 300.0
        usage = parsed.usage
        self._previous = _Sent(prompt=pending.prompt, fingerprints=pending.fingerprints,
                               message_id=parsed.message_id, sent_at=pending.sent_at,
                               cached_tokens=usage.cache_read_tokens + usage.cache_write_tokens,
                               ttl_seconds=ttl_seconds)
        self._totals = self._totals + usage
        cost = usage.cost_usd(self.limits)
        if self._cost is not None and cost is not None:
            self._cost += cost
            self._uncached = (self._uncached or 0.0) + (usage.uncached_usd(self.limits) or 0.0)
        reply = Reply(content=parsed.content, stop_reason=parsed.stop_reason,
                      message_id=parsed.message_id, usage=usage, plan=pending.plan, miss=miss,
                      cost_usd=cost, raw=parsed.raw)
        self.replies.append(reply)
        return reply

    @property
    def previous_message_id(self) -> str | None:
        return self._previous.message_id if self._previous is not None else None

    @property
    def stats(self) -> SessionStats:
        return SessionStats(requests=len(self.replies), usage=self._totals, cost_usd=self._cost,
                            uncached_usd=self._uncached)

    def pace(self) -> Reuse:
        """The conversation's reuse as observed so far (gaps between this session's requests)."""
        return self.state.observed_reuse("conversation", Volatility.SESSION.default_reuse)

    def _miss(self, pending: Pending, parsed: Parsed) -> MissReport | None:
        prev = self._previous
        actual = parsed.usage.cache_read_tokens
        lost = prev is not None and actual < prev.cached_tokens
        if not lost and parsed.server_reason is None:
            return None
        expected = pending.plan.expected.cache_read_tokens
        changed_path = changed_layer = None
        if prev is None:
            explanation = "this is the session's first request."
        else:
            explanation, changed_path, changed_layer = self._explain(prev, pending)
        return MissReport(server_reason=parsed.server_reason,
                          server_missed_tokens=parsed.server_missed_tokens,
                          changed_path=changed_path, changed_layer=changed_layer,
                          expected_read=expected, actual_read=actual, explanation=explanation)

    def _explain(self, prev: _Sent, pending: Pending) -> tuple[str, str | None, str | None]:
        index = _first_difference(prev.fingerprints, pending.fingerprints)
        if index is None:
            gap = pending.sent_at - prev.sent_at
            if gap >= prev.ttl_seconds:
                return (f"nothing changed, but {gap:,.0f} s passed since the previous request, more "
                        f"than its {prev.ttl_seconds:,.0f} s TTL: the entry expired.", None, None)
            return ("nothing before the new turn changed and the TTL had not run out: the provider "
                    "evicted the entry, or it was not readable yet (a concurrent request).", None, None)
        after = pending.prompt
        if index >= len(after.blocks):
            block = prev.prompt.blocks[-1]
            return (f"the history was cut after {after.blocks[-1].path if after.blocks else 'the start'}"
                    f": {len(prev.prompt.blocks) - index} cached blocks are gone.", block.path, block.layer)
        block = after.blocks[index]
        old = prev.prompt.blocks[index] if index < len(prev.prompt.blocks) else None
        rewrite = after.total_tokens - (after.prefix_tokens[index - 1] if index else 0)
        if old is not None and old.payload == block.payload and old.path == block.path:
            what = (f"{block.path} is unchanged, but a setting folded in where the messages start "
                    "(tool_choice, thinking, or whether an image is present) changed")
        else:
            what = f"{block.path} (layer {block.layer!r}) changed"
        return (f"{what}; everything from there on, ~{rewrite:,} tokens, was processed again.",
                block.path, block.layer)

    # -- edits -------------------------------------------------------------------------------------

    def edit(self, *, history: Sequence[Mapping[str, Any]] | None = None,
             tools: Sequence[Mapping[str, Any]] | None = None,
             system: str | Sequence[Mapping[str, Any]] | None = None,
             documents: Sequence[Document | Mapping[str, Any]] | None = None,
             apply: bool = True) -> EditCost:
        """Change the history, tools, system or documents; return what it costs in cache.

        The cost is the tokens from the first changed block to the end of the history, which the
        next request writes again instead of reading, priced at the 5m write rate.
        """
        new_history = list(self.history if history is None else history)
        check_history(new_history)
        before = self.build(self.history)
        after = self.build(new_history, tools=tools, system=system, documents=documents)
        cost = self._edit_cost(before, after)
        if apply:
            self.history = new_history
            if tools is not None:
                self.tools = tuple(tools)
            if system is not None:
                self.system = system if isinstance(system, str) else tuple(system)
            if documents is not None:
                self.documents = tuple(documents)
        return cost

    def _edit_cost(self, before: Prompt, after: Prompt) -> EditCost:
        index = _first_difference(before.fingerprints, after.fingerprints)
        if index is None or index >= len(after.blocks):
            return EditCost(changed_path=None, changed_layer=None, rewrite_tokens=0,
                            rewrite_usd=0.0 if self.limits.input_price is not None else None,
                            extra_usd=0.0 if self.limits.input_price is not None else None,
                            explanation="only blocks were appended or the end was cut: every "
                                        "cached prefix stays readable.")
        block = after.blocks[index]
        rewrite = after.total_tokens - (after.prefix_tokens[index - 1] if index else 0)
        lim = self.limits
        price = lim.input_price
        rewrite_usd = extra_usd = None
        if price is not None:
            rewrite_usd = rewrite * lim.write_multiplier("5m") * price / 1e6
            extra_usd = rewrite * (lim.write_multiplier("5m") - lim.cache_read_multiplier) * price / 1e6
        money = f" (${rewrite_usd:.4f} to write, ${extra_usd:.4f} more than a read)" if (
            rewrite_usd is not None and extra_usd is not None) else ""
        return EditCost(changed_path=block.path, changed_layer=block.layer, rewrite_tokens=rewrite,
                        rewrite_usd=rewrite_usd, extra_usd=extra_usd,
                        explanation=f"first change at {block.path} (layer {block.layer!r}): the next "
                                    f"request rewrites ~{rewrite:,} cached tokens{money}.")
