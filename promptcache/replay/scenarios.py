"""Workloads that exposed how a planner loses money: uncertainty, slow learning, fleets (issue 12).

Each is seeded and deterministic like :mod:`.workloads`, and each targets one failure:

- ``tenants``: ten tenants on Claude Haiku 4.5 (4,096-token minimum) whose tools + system prompt
  are 4.2k-4.6k tokens, each at its own pace from 40 seconds to 70 minutes: near-minimum
  candidates, and a TTL to choose per tenant.
- ``long_document``: questions over one long document with mixed pauses, quick ones and 5-12
  minute ones: a 1-hour TTL pays from the first long pause.
- ``volatile_system``: a system prompt declared static that starts with the current time, so it
  changes on every call: writing it is pure loss.
- ``subagent_waves``: waves of sub-agents that start within a second of each other on a shared
  brief, then run tool loops of their own.
- ``regenerated_chat``: a chat where answers are often regenerated (the same request again).

Returning users are :func:`.workloads.sparse_users`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from promptcache.blocks import Document, Volatility
from promptcache.builder import PromptBuilder
from promptcache.replay.workloads import (
    _AGENT_TOOLS,
    _CHAT_TOOLS,
    DEFAULT_MODEL,
    Trace,
    TraceRequest,
    _make,
    _sorted,
    _tools,
    prose,
)

__all__ = ["SCENARIOS", "long_document", "regenerated_chat", "subagent_waves", "tenants",
           "volatile_system"]


def tenants(*, count: int = 10, hours: float = 2.0, seed: int = 11,
            model: str = "claude-haiku-4-5") -> Trace:
    """Ten tenants share tools (~3k tokens); each has its own ~1.1-1.5k-token system prompt, so
    tools + system land at 4.2k-4.6k, just above Haiku 4.5's 4,096 minimum. Tenant paces are
    spread from 40 seconds to 70 minutes (log scale, jittered +-30%); every request is a single
    question."""
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 300)
    items: list[TraceRequest] = []
    for k in range(count):
        pace = 40 * (4_200 / 40) ** (k / max(1, count - 1))
        system = f"[tenant {k} policies] " + prose(rng, rng.randint(1_090, 1_480))
        t = rng.uniform(0, min(pace, 600))
        n = 0
        while t < hours * 3600:
            question = f"[tenant {k}, request {n}] " + prose(rng, rng.randint(20, 60))
            b = (PromptBuilder(model).add_tools(tools).add_system(system)
                 .add_user_turn(question).set_params(max_tokens=512))
            items.append(_make(b.build(), t, f"tenant-{k}"))
            t += pace * rng.uniform(0.7, 1.3)
            n += 1
    return _sorted("tenants", "10 tenants on Haiku 4.5, prefixes just above the 4,096 minimum, "
                   "paces 40 s to 70 min", items)


def long_document(*, questions: int = 40, seed: int = 12, model: str = DEFAULT_MODEL) -> Trace:
    """Questions over one ~25k-token document: 60% follow within 10-60 s, 40% after 5-12
    minutes; each is a single question under the same document."""
    rng = random.Random(seed)
    system = prose(rng, 800)
    doc = Document(id="contract", title="Master services agreement", text=prose(rng, 25_000))
    items: list[TraceRequest] = []
    t = 0.0
    for q in range(questions):
        question = f"[question {q}] " + prose(rng, rng.randint(20, 70))
        b = (PromptBuilder(model).add_system(system).add_documents([doc])
             .add_user_turn(question).set_params(max_tokens=1024))
        items.append(_make(b.build(), t, "reader"))
        t += rng.uniform(10, 60) if rng.random() < 0.6 else rng.uniform(300, 720)
    return _sorted("long_document", "one 25k-token document, pauses of 10-60 s and 5-12 min",
                   items)


def volatile_system(*, requests: int = 60, seed: int = 13, model: str = DEFAULT_MODEL) -> Trace:
    """A support bot whose system prompt, declared static, starts with the current time: it
    changes on every call, and so does every prefix that includes it. Tools (~1.7k) are stable."""
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 200)
    policy = prose(rng, 2_500)
    items: list[TraceRequest] = []
    t = 0.0
    for n in range(requests):
        stamp = f"Current time: {int(t) // 3600:02d}:{int(t) % 3600 // 60:02d}:{int(t) % 60:02d}."
        question = f"[request {n}] " + prose(rng, rng.randint(30, 90))
        b = (PromptBuilder(model).add_tools(tools)
             .add_system(stamp + " " + policy, volatility=Volatility.STATIC)
             .add_user_turn(question).set_params(max_tokens=512))
        items.append(_make(b.build(), t, f"request-{n}"))
        t += rng.uniform(20, 90)
    return _sorted("volatile_system", "a 'static' system prompt that starts with the time",
                   items)


def subagent_waves(*, waves: int = 5, agents: tuple[int, int] = (6, 9), steps: int = 3,
                   seed: int = 14, model: str = DEFAULT_MODEL) -> Trace:
    """Waves of sub-agents started within one second of each other on a shared brief (tools,
    system and a ~3k-token task brief), each then running a tool loop of its own (6-10 tool
    calls a step, steps 5-15 s apart); waves are 3-8 minutes apart."""
    rng = random.Random(seed)
    tools = _tools(rng, _AGENT_TOOLS, 140)
    system = prose(rng, 1_500)
    items: list[TraceRequest] = []
    t = 0.0
    for wave in range(waves):
        brief = f"[wave {wave} brief] " + prose(rng, 3_000)
        for agent in range(rng.randint(*agents)):
            start = t + rng.uniform(0, 1.0)
            history: list[dict[str, Any]] = [
                {"role": "user", "content": brief + f"\n\n[sub-task {agent}] " + prose(rng, 60)}]
            for step in range(steps):
                b = (PromptBuilder(model).add_tools(tools).add_system(system)
                     .add_messages(history).set_params(max_tokens=2048))
                items.append(_make(b.build(), start, f"wave-{wave}-agent-{agent}"))
                calls = rng.randint(6, 10)
                uses = [{"type": "tool_use", "id": f"toolu_{wave}_{agent}_{step}_{i}",
                         "name": rng.choice(_AGENT_TOOLS), "input": {"query": prose(rng, 6)}}
                        for i in range(calls)]
                results = [{"type": "tool_result", "tool_use_id": f"toolu_{wave}_{agent}_{step}_{i}",
                            "content": prose(rng, rng.randint(60, 180))} for i in range(calls)]
                history = [*history, {"role": "assistant", "content": uses},
                           {"role": "user", "content": results}]
                start += rng.uniform(5, 15)
        t += rng.uniform(180, 480)
    return _sorted("subagent_waves", "sub-agent waves started within 1 s on a shared brief",
                   items)


def regenerated_chat(*, sessions: int = 5, turns: int = 8, seed: int = 15,
                     model: str = DEFAULT_MODEL) -> Trace:
    """Chats where 40% of the answers are regenerated: the same request is sent again 5-20 s
    later, and the conversation goes on from the newest answer."""
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 160)
    system = prose(rng, 1_300)
    items: list[TraceRequest] = []
    for s in range(sessions):
        t = s * rng.uniform(60, 200)
        history: list[dict[str, Any]] = []
        for turn in range(turns):
            question = f"[chat {s}, turn {turn}] " + prose(rng, rng.randint(30, 90))
            b = (PromptBuilder(model).add_tools(tools).add_system(system)
                 .add_messages(history).add_user_turn(question).set_params(max_tokens=1024))
            prompt = b.build()
            items.append(_make(prompt, t, f"chat-{s}"))
            while rng.random() < 0.4:
                t += rng.uniform(5, 20)
                items.append(_make(prompt, t, f"chat-{s}"))
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": prose(rng, rng.randint(120, 300))}]
            t += rng.uniform(20, 90)
    return _sorted("regenerated_chat", "chats where 40% of answers are regenerated", items)


#: The issue-12 workloads by name (the cost suite runs them after WORKLOADS).
SCENARIOS: Mapping[str, Callable[..., Trace]] = {
    "tenants": tenants,
    "long_document": long_document,
    "volatile_system": volatile_system,
    "subagent_waves": subagent_waves,
    "regenerated_chat": regenerated_chat,
}
