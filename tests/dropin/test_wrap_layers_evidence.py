"""A learned layer starts with what its family showed before it was learned.

Until a RAG family's documents first rotate, the wrapper plans the whole system section as one
static layer, and the state files the documents' sightings under that layer's name. The
builder's documents layer has them from the first request. When the wrapper learns the layer,
it hands the family's earlier requests to the state as sightings of the learned layer, so a
document set that comes back is known as returning, as the builder's state knows it: on a fleet
of private workers, where each sees a set a few times, those first sightings are most of the
evidence (rag_rotating_docs on 8 private workers was 1.042x the builder's without them).

Documents sent in the first user message before the question (Anthropic's RAG layout, and the
builder's ``add_documents(as_="document_blocks")``; ``document`` or text blocks) are a layer of
their own from the first request on: the question after them changes on every request.
Without that, each question wrote the whole prompt again (4.4x the builder's cost on the RAG
workload so laid out).
"""

from __future__ import annotations

from typing import Any, Literal

import anthropic
import pytest

from promptcache import CacheState, PromptBuilder, optimize, render_anthropic
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.dropin._layers import LayerLearner
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import prompt_from_request, record_sent
from promptcache.replay.workloads import bare_request
from promptcache.testing import AnthropicServer

MODEL = "claude-sonnet-4-5"
INSTRUCTIONS = "Answer from the documents only. " + " ".join(f"rule{i}" for i in range(1_600))
SETS = {name: [{"id": f"{name}{k}", "title": f"Report {name}{k}",
                "text": " ".join(f"fact{name}{k}x{i}" for i in range(900))} for k in range(3)]
        for name in "AB"}
#: (seconds after the previous request, document set): set A asked three times, set B (the
#: first rotation: the layer is learned here), then A again after 20 minutes.
TRACE = [(0, "A"), (60, "A"), (60, "A"), (60, "B"), (60, "B"), (1_200, "A"), (60, "A")]


def _prompts(as_: Literal["system_text", "document_blocks"] = "system_text") -> list[Prompt]:
    return [PromptBuilder(MODEL).add_system(INSTRUCTIONS).add_documents(SETS[name], as_=as_)
            .add_user_turn(f"question {q}: what does it say?").set_params(max_tokens=64).build()
            for q, (_, name) in enumerate(TRACE)]


def _documents(plan: Any) -> tuple[float, float, float] | None:
    summary = next((s for s in plan.layers if s.name == "documents"), None)
    return None if summary is None else (summary.uses, summary.p_within_5m, summary.p_within_1h)


def _placed(plan: Any) -> list[tuple[int, str]]:
    return [(p.index, p.ttl) for p in plan.placements]


@pytest.mark.parametrize(("as_", "first"), [("system_text", 3), ("document_blocks", 0)])
def test_a_learned_layer_is_estimated_as_the_builders_documents_layer(
        as_: Literal["system_text", "document_blocks"], first: int) -> None:
    prompts = _prompts(as_)
    clock = ManualClock()
    dropin = CacheState(clock=clock)
    builder = CacheState(clock=clock)
    with AnthropicServer(clock=clock) as server:
        wrapped = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                       state=dropin)
        bare = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
        seen = []
        for (gap, _), prompt in zip(TRACE, prompts, strict=True):
            clock.advance(gap)
            wrapped.messages.create(**bare_request(prompt))  # the same request, unmodified code
            last = handle_of(wrapped).last
            assert last is not None and last.plan is not None
            plan = optimize(prompt, state=builder)
            usage = bare.messages.create(**render_anthropic(prompt, plan)).usage
            record_sent(builder, prompt, plan, read_tokens=usage.cache_read_input_tokens,
                        total_tokens=usage.input_tokens + usage.cache_read_input_tokens
                        + usage.cache_creation_input_tokens)
            seen.append((last.plan, plan))
    # From the first rotation on (document blocks: from the first request), the learned layer is
    # the builder's documents layer, and the returning set A is estimated (and marked) from the
    # same evidence.
    for ours, theirs in seen[first:]:
        assert _documents(ours) == _documents(theirs)
        assert _placed(ours) == _placed(theirs)
    returned = _documents(seen[5][1])
    assert returned is not None and returned[0] >= 2  # the builder's state knows set A is back


def _document(k: int, kind: str) -> dict[str, Any]:
    text = " ".join(f"fact{k}x{i}" for i in range(900))
    if kind == "text":
        return {"type": "text", "text": text}
    return {"type": "document", "title": f"Report {k}",
            "source": {"type": "text", "media_type": "text/plain", "data": text}}


@pytest.mark.parametrize("kind", ["document", "text"])
def test_documents_before_the_question_are_read_by_the_next_question(kind: str) -> None:
    docs = [_document(k, kind) for k in range(3)]
    requests = [{"model": MODEL, "max_tokens": 64, "system": INSTRUCTIONS,
                 "messages": [{"role": "user", "content": [
                     *docs, {"type": "text", "text": f"question {q}: what does it say?"}]}]}
                for q in range(3)]
    clock = ManualClock()
    with AnthropicServer(clock=clock) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                      state=CacheState(clock=clock))
        usages = []
        for request in requests:
            usages.append(client.messages.create(**request).usage)
            clock.advance(30)
        bodies = [r.json() for r in server.requests if r.path == "/v1/messages"]
    documents = prompt_from_request(requests[0]).prefix_tokens[3]  # system and the 3 documents
    # The first question writes the documents with a marker of their own; the next ones read them.
    assert "cache_control" in bodies[0]["messages"][0]["content"][2]
    assert all(u.cache_read_input_tokens >= 0.9 * documents for u in usages[1:])
    for sent, written in zip(bodies, requests, strict=True):  # only markers were added
        content = [{k: v for k, v in b.items() if k != "cache_control"}
                   for b in sent["messages"][0]["content"]]
        assert content == written["messages"][0]["content"]
        assert [{k: v for k, v in b.items() if k != "cache_control"}
                for b in sent["system"]] == [{"type": "text", "text": INSTRUCTIONS}]


def test_the_hand_over_waits_for_the_system_sections_first_cut() -> None:
    """Documents in the system and in the first message: the question's change (on the second
    request) is not the system section's, whose earlier requests are handed over when its own
    documents first rotate."""
    clock = ManualClock()
    state = CacheState(clock=clock)
    learner = LayerLearner()

    def request(documents: str, question: int) -> dict[str, Any]:
        return {"model": MODEL, "max_tokens": 64,
                "system": [{"type": "text", "text": INSTRUCTIONS},
                           {"type": "text", "text": f"{documents} " * 900}],
                "messages": [{"role": "user", "content": [_document(0, "document"),
                                                          {"type": "text",
                                                           "text": f"question {question}?"}]}]}

    for question, documents in enumerate(["set A", "set A", "set B"]):
        clock.advance(60)
        prompt = learner.relayer(prompt_from_request(request(documents, question)), state)
    assert [(la.name, la.section, la.start, la.stop) for la in prompt.layers] == [
        ("system", "system", 0, 1), ("documents", "system", 1, 2),
        ("documents:2", "messages", 2, 3), ("conversation", "messages", 3, 4)]
    stats = state.lookup((), clock.now(), [("documents", "")])[1]["documents"]
    assert stats.sightings == 2  # the two requests over set A, before it rotated


def test_the_hand_over_stays_out_of_a_shared_store(redis_url: str) -> None:
    """On a store shared by a fleet, the first worker to learn a layer feeds it live sightings;
    a worker's hand-over of its older requests would reach the store after them, out of order,
    so it is left out there (RAG on 8 Redis workers: 1.017x -> 1.000x the builder's fleet)."""
    from promptcache.state_redis import RedisStateStore

    clock = ManualClock()
    store = RedisStateStore(redis_url, namespace="hand-over", timeout=1.0)
    state = CacheState(clock=clock, shared=store)
    learner = LayerLearner()
    for documents in ["set A", "set A", "set B"]:
        clock.advance(60)
        prompt = learner.relayer(prompt_from_request({
            "model": MODEL, "max_tokens": 64,
            "system": [{"type": "text", "text": INSTRUCTIONS},
                       {"type": "text", "text": f"{documents} " * 900}],
            "messages": [{"role": "user", "content": "a question?"}]}), state)
    assert [la.name for la in prompt.layers][:2] == ["system", "documents"]
    stats = state.lookup((), clock.now(), [("documents", "")])[1]
    assert "documents" not in stats or stats["documents"].sightings == 0
