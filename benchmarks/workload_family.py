"""A parametric family of workloads: the planner's test bed (issue 20, item 1).

Each workload is drawn from a :class:`Spec` (family, model, prefix size, pace, fan-out, ...) that
is itself drawn from a fixed seed, so workload ``i`` of the set is the same trace on every
machine. The families cover the traffic shapes the hand-written workloads of
``promptcache.replay`` do not, and the ones they do, across their parameters:

- ``chat``: conversations with tools, from one user to several interleaved ones.
- ``agent``: tool loops with 1-30 tool calls a step.
- ``rag``: single questions over document sets that rotate, some sets coming back later.
- ``burst``: bursts of 5-40 concurrent requests within 3 s on a shared prefix.
- ``tenants``: tenants sharing tools, each with its own system prompt and pace.
- ``subagent_waves``: waves of sub-agents on a shared brief, each running its own tool loop.
- ``compaction``: a chat whose history is replaced by a summary every few turns.
- ``tool_change``: a chat whose tool list grows mid-conversation (an MCP server connects).
- ``thinking``: an agent with extended thinking on, on models that keep or strip earlier
  thinking blocks.

Prefix sizes run from below the model's minimum to 150k tokens, paces from seconds to hours, on
models with minimums from 512 to 4,096 tokens and both Claude tokenizer ratios. Only public
promptcache API is used (the builder and :mod:`promptcache.replay.workloads`' public types).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from promptcache.blocks import Document, Volatility
from promptcache.builder import PromptBuilder
from promptcache.limits import limits_for
from promptcache.prompt import Prompt
from promptcache.replay.workloads import Trace, TraceRequest, bare_request, prose

#: Every family; workload ``i`` is of family ``FAMILIES[i % len(FAMILIES)]``.
FAMILIES: tuple[str, ...] = ("chat", "agent", "rag", "burst", "tenants", "subagent_waves",
                             "compaction", "tool_change", "thinking")

#: Models with a price, spanning minimums 512-4,096 and both tokenizer ratios.
MODELS: tuple[str, ...] = ("claude-opus-5-5", "claude-sonnet-4-5", "claude-sonnet-4-6",
                           "claude-opus-4-7", "claude-3-5-haiku", "claude-haiku-4-5",
                           "claude-opus-4-5")
#: Section F of PROVIDER_FACTS: models that keep earlier thinking blocks / strip them.
THINKING_KEEP: tuple[str, ...] = ("claude-opus-5-5", "claude-sonnet-4-6", "claude-opus-4-5")
THINKING_STRIP: tuple[str, ...] = ("claude-sonnet-4-5", "claude-haiku-4-5")

MAX_PREFIX = 150_000



@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """The parameters one workload is drawn from; ``seed`` drives everything else."""

    index: int
    family: str
    seed: int
    model: str
    #: Tokens of the shared static prefix (tools + system, or documents), before the tail.
    prefix_tokens: int
    #: Typical seconds between a session's consecutive requests.
    pace: float
    #: Requests the workload aims at (the generator stops near it).
    requests: int
    #: Tool calls a step (agents, sub-agents, thinking).
    fanout: int
    #: True when the workload is also replayed on 8-worker fleets.
    fleet: bool

    @property
    def name(self) -> str:
        return f"g{self.index:03d}-{self.family}"

    def describe(self) -> str:
        return (f"{self.family} on {self.model}, prefix ~{self.prefix_tokens:,} tok, pace "
                f"{_pace(self.pace)}, fan-out {self.fanout}")


def _pace(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def spec(index: int, *, fleet_every: int = 10) -> Spec:
    """Workload ``index`` of the generated set (deterministic)."""
    family = FAMILIES[index % len(FAMILIES)]
    rng = random.Random(20_000 + index)
    model = rng.choice(THINKING_KEEP + THINKING_STRIP if family == "thinking" else MODELS)
    minimum = limits_for(model, provider="anthropic").min_cacheable_tokens
    # From 40% of the minimum to 150k, log-uniform; large prefixes are rarer than small ones.
    prefix = int(_log_uniform(rng, 0.4 * minimum, MAX_PREFIX if rng.random() < 0.3 else 30_000))
    if family in ("burst", "subagent_waves"):
        pace = _log_uniform(rng, 60, 3_600)  # between bursts / waves
    elif family in ("agent", "thinking"):
        pace = _log_uniform(rng, 2, 600)
    else:
        pace = _log_uniform(rng, 3, 7_200)
    requests = rng.randint(20, 48) if prefix < 60_000 else rng.randint(20, 28)
    fanout = round(_log_uniform(rng, 1, 30))
    return Spec(index=index, family=family, seed=rng.randrange(2**31), model=model,
                prefix_tokens=prefix, pace=pace, requests=requests, fanout=fanout,
                fleet=index % fleet_every == 0)


def specs(count: int) -> list[Spec]:
    """The first ``count`` specs of the set."""
    return [spec(i) for i in range(count)]


# -- content --------------------------------------------------------------------------------------


def _prose(rng: random.Random, words: int) -> str:
    return prose(rng, max(1, words))


def _tools(rng: random.Random, names: Sequence[str], words: int) -> list[dict[str, Any]]:
    return [{"name": name, "description": _prose(rng, words),
             "input_schema": {"type": "object",
                              "properties": {"query": {"type": "string"}},
                              "required": ["query"]}}
            for name in names]


def _toolset(rng: random.Random, tokens: int, count: int, prefix: str = "tool") -> list[Any]:
    return _tools(rng, [f"{prefix}_{i}" for i in range(count)], max(8, tokens // count - 30))


class _Out:
    """Collects the requests of one trace."""

    def __init__(self, s: Spec) -> None:
        self.spec = s
        self.items: list[TraceRequest] = []

    def add(self, prompt: Prompt, t: float, session: str) -> None:
        self.items.append(TraceRequest(t=round(t, 3), request=bare_request(prompt), prompt=prompt,
                                       session=session))

    @property
    def full(self) -> bool:
        return len(self.items) >= self.spec.requests

    def trace(self) -> Trace:
        items = sorted(self.items, key=lambda r: r.t)[: self.spec.requests]
        return Trace(name=self.spec.name, description=self.spec.describe(), requests=tuple(items))


def _gap(rng: random.Random, pace: float) -> float:
    return pace * rng.uniform(0.5, 1.5)


def _split(prefix: int) -> tuple[int, int]:
    """Tokens of tools and of system for a tools + system prefix of ``prefix`` tokens."""
    tools = int(prefix * 0.4)
    return tools, prefix - tools


def _builder(s: Spec, tools: list[Any] | None, system: str) -> PromptBuilder:
    b = PromptBuilder(s.model)
    if tools:
        b = b.add_tools(tools)
    return b.add_system(system)


def _chat(s: Spec, rng: random.Random, out: _Out, *, compact_every: int = 0,
          tool_change_at: int = 0) -> None:
    tool_tokens, sys_tokens = _split(s.prefix_tokens)
    tools = _toolset(rng, tool_tokens, rng.randint(3, 10))
    extra = _toolset(rng, max(400, tool_tokens // 2), rng.randint(2, 6), prefix="mcp")
    system = _prose(rng, sys_tokens)
    sessions = rng.randint(1, 5)
    turns = max(2, s.requests // sessions)
    for sess in range(sessions):
        t = sess * _gap(rng, max(s.pace, 30))
        history: list[dict[str, Any]] = []
        for turn in range(turns):
            changed = tool_change_at and turn >= tool_change_at
            question = f"[{s.name} user {sess} turn {turn}] " + _prose(rng, rng.randint(20, 90))
            b = (_builder(s, tools + extra if changed else tools, system).add_messages(history)
                 .add_user_turn(question).set_params(max_tokens=1024))
            out.add(b.build(), t, f"chat-{sess}")
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": _prose(rng, rng.randint(80, 320))}]
            if compact_every and (turn + 1) % compact_every == 0:
                history = [{"role": "user", "content": "[summary of the conversation] "
                            + _prose(rng, rng.randint(200, 600))},
                           {"role": "assistant", "content": "Understood."}]
            t += _gap(rng, s.pace)


def chat(s: Spec, rng: random.Random, out: _Out) -> None:
    _chat(s, rng, out)


def compaction(s: Spec, rng: random.Random, out: _Out) -> None:
    _chat(s, rng, out, compact_every=rng.randint(3, 6))


def tool_change(s: Spec, rng: random.Random, out: _Out) -> None:
    _chat(s, rng, out, tool_change_at=rng.randint(2, 5))


def _step(rng: random.Random, tag: str, calls: int, thinking: bool) -> list[dict[str, Any]]:
    uses = [{"type": "tool_use", "id": f"toolu_{tag}_{i}", "name": "tool_0",
             "input": {"query": _prose(rng, 6)}} for i in range(calls)]
    head: list[dict[str, Any]] = [{"type": "text", "text": _prose(rng, 30)}]
    if thinking:
        head = [{"type": "thinking", "thinking": _prose(rng, rng.randint(80, 300)),
                 "signature": f"sig-{tag}"}, *head]
    results = [{"type": "tool_result", "tool_use_id": f"toolu_{tag}_{i}",
                "content": _prose(rng, rng.randint(40, 220))} for i in range(calls)]
    return [{"role": "assistant", "content": [*head, *uses]}, {"role": "user", "content": results}]


def _agent(s: Spec, rng: random.Random, out: _Out, *, thinking: bool) -> None:
    tool_tokens, sys_tokens = _split(s.prefix_tokens)
    tools = _toolset(rng, tool_tokens, rng.randint(4, 14))
    system = _prose(rng, sys_tokens)
    params: dict[str, Any] = {"max_tokens": 8192}
    if thinking:
        params["thinking"] = {"type": "enabled", "budget_tokens": 4096}
    t = 0.0
    task = 0
    while not out.full:
        history: list[dict[str, Any]] = [
            {"role": "user", "content": f"[{s.name} task {task}] " + _prose(rng, 150)}]
        for step in range(rng.randint(3, 10)):
            b = _builder(s, tools, system).add_messages(history).set_params(**params)
            out.add(b.build(), t, f"task-{task}")
            history = [*history, *_step(rng, f"{task}_{step}", max(1, s.fanout + rng.randint(-1, 1)),
                                        thinking)]
            if thinking and rng.random() < 0.3:
                # A plain user turn: strip models drop the earlier thinking blocks here.
                history = [*history, {"role": "assistant", "content": _prose(rng, 40)},
                           {"role": "user", "content": "Continue. " + _prose(rng, 30)}]
            t += _gap(rng, s.pace)
        task += 1
        t += _gap(rng, s.pace * 3)


def agent(s: Spec, rng: random.Random, out: _Out) -> None:
    _agent(s, rng, out, thinking=False)


def thinking(s: Spec, rng: random.Random, out: _Out) -> None:
    _agent(s, rng, out, thinking=True)


def rag(s: Spec, rng: random.Random, out: _Out) -> None:
    system = _prose(rng, rng.randint(200, 1_500))
    per_set = rng.randint(1, 4)
    doc_tokens = max(100, s.prefix_tokens // per_set)
    pool = [Document(id=f"doc-{i}", title=f"Doc {i}", text=_prose(rng, doc_tokens))
            for i in range(per_set * 3)]
    seen: list[tuple[Document, ...]] = []
    t = 0.0
    topic = 0
    while not out.full:
        if seen and rng.random() < 0.35:
            docs = rng.choice(seen)
        else:
            docs = tuple(rng.sample(pool, per_set))
            seen.append(docs)
        for q in range(rng.randint(2, 6)):
            question = f"[{s.name} topic {topic} q {q}] " + _prose(rng, rng.randint(20, 60))
            b = (PromptBuilder(s.model).add_system(system).add_documents(docs)
                 .add_user_turn(question).set_params(max_tokens=1024))
            out.add(b.build(), t, f"topic-{topic}")
            t += _gap(rng, min(s.pace, 120))
        t += _gap(rng, s.pace)
        topic += 1


def burst(s: Spec, rng: random.Random, out: _Out) -> None:
    tool_tokens, sys_tokens = _split(s.prefix_tokens)
    tools = _toolset(rng, tool_tokens, rng.randint(3, 8))
    system = _prose(rng, sys_tokens)
    size = rng.randint(5, 40)
    t = 0.0
    n = 0
    while not out.full:
        for i in range(min(size, s.requests)):
            question = f"[{s.name} burst {n} item {i}] " + _prose(rng, rng.randint(20, 80))
            b = _builder(s, tools, system).add_user_turn(question).set_params(max_tokens=512)
            out.add(b.build(), t + rng.uniform(0, 3.0), f"burst-{n}")
        t += _gap(rng, s.pace)
        n += 1


def tenants(s: Spec, rng: random.Random, out: _Out) -> None:
    count = rng.randint(2, 10)
    tool_tokens, sys_tokens = _split(s.prefix_tokens)
    tools = _toolset(rng, tool_tokens, rng.randint(3, 8))
    per = max(2, s.requests // count)
    for k in range(count):
        pace = s.pace * 10 ** rng.uniform(-1, 1)
        system = f"[tenant {k}] " + _prose(rng, sys_tokens)
        t = rng.uniform(0, min(pace, 600))
        for n in range(per):
            question = f"[{s.name} tenant {k} request {n}] " + _prose(rng, rng.randint(20, 60))
            b = _builder(s, tools, system).add_user_turn(question).set_params(max_tokens=512)
            out.add(b.build(), t, f"tenant-{k}")
            t += _gap(rng, pace)


def subagent_waves(s: Spec, rng: random.Random, out: _Out) -> None:
    tool_tokens, sys_tokens = _split(min(s.prefix_tokens, 20_000))
    tools = _toolset(rng, tool_tokens, rng.randint(4, 12))
    system = _prose(rng, sys_tokens)
    brief_tokens = max(200, s.prefix_tokens - tool_tokens - sys_tokens)
    t = 0.0
    wave = 0
    while not out.full:
        brief = f"[{s.name} wave {wave} brief] " + _prose(rng, brief_tokens)
        for a in range(rng.randint(3, 9)):
            start = t + rng.uniform(0, 1.0)
            history: list[dict[str, Any]] = [
                {"role": "user", "content": brief + f"\n\n[sub-task {a}] " + _prose(rng, 60)}]
            for step in range(rng.randint(1, 3)):
                b = _builder(s, tools, system).add_messages(history).set_params(max_tokens=2048)
                out.add(b.build(), start, f"wave-{wave}-agent-{a}")
                history = [*history, *_step(rng, f"{wave}_{a}_{step}",
                                            max(1, s.fanout // 2), False)]
                start += rng.uniform(5, 15)
        t += _gap(rng, s.pace)
        wave += 1


_GENERATORS: dict[str, Callable[[Spec, random.Random, _Out], None]] = {
    "chat": chat, "agent": agent, "rag": rag, "burst": burst, "tenants": tenants,
    "subagent_waves": subagent_waves, "compaction": compaction, "tool_change": tool_change,
    "thinking": thinking,
}


def build(s: Spec) -> Trace:
    """The trace of ``s`` (deterministic: the same spec gives the same requests)."""
    out = _Out(s)
    _GENERATORS[s.family](s, random.Random(s.seed), out)
    return out.trace()


def static_volatility(layer_volatility: Volatility) -> bool:
    """True for the layers the '1h static' baseline writes for an hour."""
    return layer_volatility in (Volatility.STATIC, Volatility.DAILY)
