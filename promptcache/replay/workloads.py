"""Deterministic, realistic request traces: what the demo, ``simulate`` and the benchmarks replay.

A :class:`Trace` is a list of timestamped Anthropic ``messages.create`` requests. Each generated
request also carries the :class:`~promptcache.Prompt` its PromptBuilder produced, so promptcache
can plan from the layer hints a user of the builder would give; strategies that do not use hints
(the provider's automatic mode, hand placement) see only the request, and every strategy sends
the same content in the same order, so cost differences come from breakpoints alone.

The generators are seeded: the same arguments give the same trace on every machine, which is what
lets the docs quote numbers. Only the Anthropic request shape is produced for now.

Traces round-trip through JSONL, one request a line: ``{"t": seconds, "request": {...}}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from promptcache._deprecated import renamed
from promptcache.blocks import Document
from promptcache.builder import PromptBuilder
from promptcache.errors import PromptError, TraceError
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import render_prefix
from promptcache.redact import redacted_repr

__all__ = [
    "DEFAULT_MODEL",
    "WORKLOADS",
    "Trace",
    "TraceError",
    "TraceRequest",
    "agent_tool_loop",
    "bare_request",
    "bursts",
    "chat_with_tools",
    "load_replay_trace",
    "prose",
    "rag_rotating_documents",
    "save_trace",
    "sparse_users",
    "strip_cache_control",
    "workload",
]

#: Sonnet 4.5: 1,024-token minimum, $3 per million input tokens.
DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceRequest:
    """One request of a trace, at ``t`` seconds from the trace's start."""

    #: Header values and credentials in ``request`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    t: float
    #: ``messages.create`` keyword arguments, without any ``cache_control``.
    request: Mapping[str, Any]
    #: The Prompt the request was built from (layer hints included); None for recorded traces.
    prompt: Prompt | None = None
    #: Which conversation, user or burst it belongs to (for reports; strategies ignore it).
    session: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """A named, time-ordered sequence of requests."""

    name: str
    description: str
    requests: tuple[TraceRequest, ...]

    @property
    def duration(self) -> float:
        return self.requests[-1].t - self.requests[0].t if self.requests else 0.0


# -- request helpers ------------------------------------------------------------------------------


def strip_cache_control(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``request`` with every ``cache_control`` removed (top level, tools, blocks).

    Recorded traces often carry the markers their sender chose; strategies are compared on the
    content alone.
    """

    def clean(block: Any) -> Any:
        if isinstance(block, Mapping):
            return {k: v for k, v in block.items() if k != "cache_control"}
        return block

    out = {k: v for k, v in request.items() if k != "cache_control"}
    if isinstance(out.get("tools"), list):
        out["tools"] = [clean(t) for t in out["tools"]]
    if isinstance(out.get("system"), list):
        out["system"] = [clean(b) for b in out["system"]]
    if isinstance(out.get("messages"), list):
        out["messages"] = [
            {**m, "content": [clean(b) for b in m["content"]]}
            if isinstance(m, Mapping) and isinstance(m.get("content"), list) else m
            for m in out["messages"]
        ]
    return out


def bare_request(prompt: Prompt) -> dict[str, Any]:
    """The ``messages.create`` kwargs of ``prompt`` with no breakpoint at all."""
    if not prompt.blocks:
        raise PromptError("An empty prompt cannot be sent.")
    request = render_prefix(prompt, len(prompt.blocks) - 1)
    request.update(prompt.params)
    return request


# -- text -----------------------------------------------------------------------------------------

_VOCAB_TEXT = (
    "the of and to in is for on that with as by this are from be at or an it not which can have "
    "will all has more one their been also other its into than only when time new may these some "
    "such data system user value order report account customer service product price policy "
    "request result error status update support team issue case process record file table field "
    "number date market region quarter revenue growth contract clause party section payment term "
    "notice period liability warranty review analysis model design change release version test "
    "build deploy server network access security risk control audit plan budget cost invoice "
    "shipment delivery stock supplier schedule meeting project task owner priority summary note"
)
_VOCAB = tuple(_VOCAB_TEXT.split())


def prose(rng: random.Random, words: int) -> str:
    """Roughly ``words`` tokens of deterministic filler prose (each word is one cl100k token).

    Public so generated workloads (``benchmarks/``) fill text the way the named ones do.
    """
    out = []
    for i in range(words):
        w = rng.choice(_VOCAB)
        out.append(w.capitalize() + "." if i % 17 == 16 else w)
    return " ".join(out)


def _tools(rng: random.Random, names: Sequence[str], words: int) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": prose(rng, words),
            "input_schema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": prose(rng, 12)},
                    "limit": {"type": "integer", "description": "Maximum results to return."},
                },
                "required": ["query"],
            },
        }
        for name in names
    ]


def _make(prompt: Prompt, t: float, session: str) -> TraceRequest:
    return TraceRequest(t=round(t, 3), request=bare_request(prompt), prompt=prompt,
                        session=session)


def _sorted(name: str, description: str, items: Iterable[TraceRequest]) -> Trace:
    return Trace(name=name, description=description,
                 requests=tuple(sorted(items, key=lambda r: r.t)))


# -- workloads ------------------------------------------------------------------------------------

_CHAT_TOOLS = ("search_orders", "get_order", "refund_order", "update_address", "track_shipment",
               "list_invoices", "open_ticket", "escalate")


def chat_with_tools(*, sessions: int = 6, turns: int = 10, seed: int = 1,
                    model: str = DEFAULT_MODEL) -> Trace:
    """Support chats with 8 tools: users start every ~2 minutes and reply every 15-90 seconds.

    Shared prefix: ~1.7k tokens of tools and ~1.3k of instructions; each conversation grows by a
    question and an answer a turn.
    """
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 160)
    system = prose(rng, 1_300)
    items: list[TraceRequest] = []
    for s in range(sessions):
        t = s * rng.uniform(90, 150)
        history: list[dict[str, Any]] = []
        for turn in range(turns):
            question = f"[user {s}, turn {turn}] " + prose(rng, rng.randint(30, 90))
            b = (PromptBuilder(model).add_tools(tools).add_system(system)
                 .add_messages(history).add_user_turn(question).set_params(max_tokens=1024))
            items.append(_make(b.build(), t, f"chat-{s}"))
            answer = prose(rng, rng.randint(120, 320))
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": answer}]
            t += rng.uniform(15, 90)
    return _sorted("chat_with_tools", "support chat with 8 tools, replies every 15-90 s", items)


def rag_rotating_documents(*, topics: int = 12, questions: tuple[int, int] = (3, 6),
                           seed: int = 2, model: str = DEFAULT_MODEL,
                           documents_as: Literal["system_text", "document_blocks"] = "system_text",
                           ) -> Trace:
    """Single-turn questions over 3 retrieved documents; the documents rotate every few questions.

    A pool of 14 documents (~1.2-2k tokens each); each topic picks 3 and asks 3-6 questions 10-60
    seconds apart; a third of the topics come back to an earlier document set 10-30 minutes later.
    ``documents_as``: how the builder renders them (``add_documents(as_=...)``): system text
    blocks, or ``document`` blocks in a user message before the question.
    """
    rng = random.Random(seed)
    system = prose(rng, 900)
    pool = [Document(id=f"doc-{i}", title=f"Report {i}", text=prose(rng, rng.randint(1_200, 2_000)))
            for i in range(14)]
    items: list[TraceRequest] = []
    t = 0.0
    seen: list[tuple[Document, ...]] = []
    for topic in range(topics):
        if seen and rng.random() < 0.33:
            docs = rng.choice(seen)
        else:
            docs = tuple(rng.sample(pool, 3))
            seen.append(docs)
        for q in range(rng.randint(*questions)):
            question = f"[topic {topic}, question {q}] " + prose(rng, rng.randint(20, 60))
            b = (PromptBuilder(model).add_system(system).add_documents(docs, as_=documents_as)
                 .add_user_turn(question).set_params(max_tokens=1024))
            items.append(_make(b.build(), t, f"topic-{topic}"))
            t += rng.uniform(10, 60)
        t += rng.uniform(30, 240)
    return _sorted("rag_rotating_docs", "RAG over 3 of 14 documents, rotating every 3-6 questions",
                   items)


_AGENT_TOOLS = ("read_file", "write_file", "list_dir", "grep", "run_tests", "run_command",
                "git_diff", "git_log", "search_docs", "fetch_url", "open_issue", "comment",
                "lint", "format")


def agent_tool_loop(*, tasks: int = 3, steps: int = 6, seed: int = 3,
                    model: str = DEFAULT_MODEL) -> Trace:
    """A coding agent: each step the model calls 12-14 tools at once and gets 12-14 results back.

    A step adds ~26 blocks, more than the 20-block lookback, so a breakpoint only on the last
    block cannot find the previous step's cache entry. Steps are 4-20 seconds apart.
    """
    rng = random.Random(seed)
    tools = _tools(rng, _AGENT_TOOLS, 140)
    system = prose(rng, 1_500)
    items: list[TraceRequest] = []
    t = 0.0
    for task in range(tasks):
        history: list[dict[str, Any]] = [
            {"role": "user", "content": f"[task {task}] " + prose(rng, 150)}]
        for step in range(steps):
            b = (PromptBuilder(model).add_tools(tools).add_system(system)
                 .add_messages(history).set_params(max_tokens=4096))
            items.append(_make(b.build(), t, f"task-{task}"))
            calls = rng.randint(12, 14)
            uses = [{"type": "tool_use", "id": f"toolu_{task}_{step}_{i}",
                     "name": rng.choice(_AGENT_TOOLS), "input": {"query": prose(rng, 6)}}
                    for i in range(calls)]
            results = [{"type": "tool_result", "tool_use_id": f"toolu_{task}_{step}_{i}",
                        "content": prose(rng, rng.randint(60, 220))} for i in range(calls)]
            history = [*history,
                       {"role": "assistant",
                        "content": [{"type": "text", "text": prose(rng, 40)}, *uses]},
                       {"role": "user", "content": results}]
            t += rng.uniform(4, 20)
        t += rng.uniform(20, 60)
    return _sorted("agent_tool_loop", "coding agent, 12-14 tool calls a step, steps 4-20 s apart",
                   items)


def sparse_users(*, users: int = 6, turns: int = 5, seed: int = 4,
                 model: str = DEFAULT_MODEL) -> Trace:
    """Users who come back after 8-25 minutes: a 5-minute entry is always cold by then.

    Six users start within the first 20 minutes; each long conversation (~6k tokens of account
    context in the first message) grows by a turn at every visit.
    """
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 160)
    system = prose(rng, 1_300)
    items: list[TraceRequest] = []
    for u in range(users):
        t = rng.uniform(0, 1_200)
        history: list[dict[str, Any]] = []
        context = f"[user {u} account history] " + prose(rng, 6_000)
        for turn in range(turns):
            question = (context + "\n\n" if turn == 0 else "") + f"[turn {turn}] " + prose(rng, 60)
            b = (PromptBuilder(model).add_tools(tools).add_system(system)
                 .add_messages(history).add_user_turn(question).set_params(max_tokens=1024))
            items.append(_make(b.build(), t, f"user-{u}"))
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": prose(rng, rng.randint(150, 300))}]
            t += rng.uniform(480, 1_500)
    return _sorted("sparse_users", "users who come back every 8-25 minutes", items)


def bursts(*, count: int = 8, size: tuple[int, int] = (5, 8), seed: int = 5,
           model: str = DEFAULT_MODEL) -> Trace:
    """Bursts of concurrent requests (fan-out) sharing a large prefix, 2-6 minutes apart.

    Requests in a burst start within 0.3 s of each other, before any response has started, so
    none can read what another of the same burst writes.
    """
    rng = random.Random(seed)
    tools = _tools(rng, _CHAT_TOOLS, 160)
    system = prose(rng, 1_300)
    corpus = [Document(id=f"kb-{i}", text=prose(rng, 1_500)) for i in range(3)]
    items: list[TraceRequest] = []
    t = 0.0
    for burst in range(count):
        for i in range(rng.randint(*size)):
            question = f"[burst {burst}, item {i}] " + prose(rng, rng.randint(30, 80))
            b = (PromptBuilder(model).add_tools(tools).add_system(system).add_documents(corpus)
                 .add_user_turn(question).set_params(max_tokens=512))
            items.append(_make(b.build(), t + rng.uniform(0, 0.3), f"burst-{burst}"))
        t += rng.uniform(120, 360)
    return _sorted("bursts", "fan-out bursts of 5-8 concurrent requests, 2-6 minutes apart", items)


#: Every workload by name; the demo runs the first three, the benchmark suite all of them.
WORKLOADS: Mapping[str, Callable[..., Trace]] = {
    "chat_with_tools": chat_with_tools,
    "rag_rotating_docs": rag_rotating_documents,
    "agent_tool_loop": agent_tool_loop,
    "sparse_users": sparse_users,
    "bursts": bursts,
}


def workload(name: str, **options: Any) -> Trace:
    """Build the named workload; raises TraceError naming the known ones."""
    try:
        factory = WORKLOADS[name]
    except KeyError:
        raise TraceError(f"Unknown workload {name!r}; known: {', '.join(WORKLOADS)}.") from None
    return factory(**options)


# -- JSONL ----------------------------------------------------------------------------------------


def save_trace(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` as JSONL: ``{"t": seconds, "request": {...}}`` per line (plus ``session``)."""
    with Path(path).open("w", encoding="utf-8") as f:
        for item in trace.requests:
            record: dict[str, Any] = {"t": item.t, "request": item.request}
            if item.session:
                record["session"] = item.session
            f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def _record(raw: str, where: str) -> TraceRequest:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as e:
        raise TraceError(f"{where}: not valid JSON ({e.msg} at column {e.colno}).",
                         path=where) from None
    if not isinstance(record, dict):
        raise TraceError(f"{where}: each line must be an object "
                         '{"t": seconds, "request": {...}}.', path=where)
    t = record.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise TraceError(f"{where}: 't' must be a number of seconds, got {t!r}.", path=where)
    request = record.get("request")
    if not isinstance(request, dict):
        raise TraceError(f"{where}: 'request' must be an object of messages.create keyword "
                         "arguments.", path=where)
    for key in ("model", "messages"):
        if key not in request:
            raise TraceError(f"{where}: the request has no {key!r}.", path=where)
    session = record.get("session", "")
    return TraceRequest(t=float(t), request=strip_cache_control(request),
                        session=str(session) if session is not None else "")


def load_replay_trace(path: str | Path, *, name: str | None = None) -> Trace:
    """Read a JSONL trace; blank lines are skipped, requests are ordered by ``t`` (stable).

    Any ``cache_control`` in the recorded requests is removed: strategies place their own.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise TraceError(f"Cannot read trace {str(p)!r}: {e.strerror or e}.") from e
    items = [_record(line, f"{p.name} line {n}") for n, line in enumerate(lines, 1) if line.strip()]
    if not items:
        raise TraceError(f"Trace {str(p)!r} holds no requests.")
    return _sorted(name or p.stem, f"recorded trace {p.name}", items)

#: Old names, renamed to say what they are (docs/architecture.md, "Renamed names").
__getattr__ = renamed(__name__, {"load_trace": "load_replay_trace"}, globals())
