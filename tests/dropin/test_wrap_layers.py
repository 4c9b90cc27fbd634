"""wrap() learns a request family's layers from what changes between its requests.

RAG code written without PromptBuilder sends its instructions and the documents it retrieved as
system blocks, the documents rotating every few questions. The wrapper compares the requests of
one family (same model, tools and first system block) block by block: the blocks that never
changed stay static, the rotating ones become a layer of their own, so the instructions are
cached apart from the documents and outlive every rotation. Only markers are added to the wire.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from promptcache import CacheState, PromptBuilder
from promptcache.clock import ManualClock
from promptcache.dropin import handle_of, wrap
from promptcache.dropin._layers import LayerLearner
from promptcache.providers.anthropic.render import prompt_from_request
from promptcache.testing import AnthropicServer

MODEL = "claude-sonnet-4-5"
INSTRUCTIONS = "Answer from the documents only. " + " ".join(f"rule{i}" for i in range(1_600))


def _doc(n: int) -> dict[str, Any]:
    return {"type": "text",
            "text": f"<document id=\"doc-{n}\">\n" + " ".join(f"fact{n}x{i}" for i in range(900))
                    + "\n</document>"}


def _request(docs: tuple[int, ...], question: int) -> dict[str, Any]:
    """A request as RAG code writes it: instructions, then the retrieved documents, as system."""
    return {"model": MODEL, "max_tokens": 64,
            "system": [{"type": "text", "text": INSTRUCTIONS}, *(_doc(n) for n in docs)],
            "messages": [{"role": "user", "content": f"question {question}: what does it say?"}]}


#: Three questions over each of three document sets, in turn.
TRACE = [_request(docs, q) for q, docs in enumerate(
    [(1, 2, 3)] * 3 + [(4, 5, 6)] * 3 + [(7, 8, 9)] * 3)]


def _unmarked(value: Any) -> Any:
    """``value`` without markers, a string message spelled as the one text block it is (a marker
    on a string message needs the block form; the cache sees the two alike)."""
    if isinstance(value, dict):
        out = {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
        if "role" in out and isinstance(out.get("content"), str):
            out["content"] = [{"type": "text", "text": out["content"]}]
        return out
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def _run(requests: list[dict[str, Any]], *, wrapped: bool) -> tuple[list[Any], list[Any],
                                                                   list[Any]]:
    """Send ``requests`` one a minute; the bodies the server got, the usages, the plans."""
    clock = ManualClock()
    with AnthropicServer(clock=clock) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
        if wrapped:
            wrap(client, state=CacheState(clock=clock))
        usages, plans = [], []
        for request in requests:
            usages.append(client.messages.create(**request).usage)
            plans.append(handle_of(client).last if wrapped else None)
            clock.advance(60)
        bodies = [r.json() for r in server.requests if r.path == "/v1/messages"]
    return bodies, usages, plans


def _layers(prepared: Any) -> list[tuple[str, int, int, str]]:
    return [(layer.name, layer.start, layer.stop, layer.volatility.value)
            for layer in prepared.prompt.layers]


def test_rotating_documents_become_their_own_layer_and_the_instructions_outlive_rotations() -> None:
    bodies, usages, plans = _run(TRACE, wrapped=True)
    # The first request of the family is planned as before learning: one static system layer.
    assert _layers(plans[0])[0] == ("system", 0, 4, "static")
    # From the first rotation on, the documents are a layer of their own.
    assert ("system", 0, 1, "static") in _layers(plans[3])
    assert ("documents", 1, 4, "session") in _layers(plans[3])
    assert "cache_control" in bodies[6]["system"][0]  # the instructions carry their own marker
    instructions = prompt_from_request(TRACE[0]).prefix_tokens[0]
    # The second rotation reads the instructions the first one wrote, and writes only the new
    # documents; within a set, everything up to the question is read.
    assert usages[6].cache_read_input_tokens >= 0.9 * instructions
    assert usages[7].cache_read_input_tokens > usages[6].cache_read_input_tokens


def test_learning_adds_only_markers_to_the_wire() -> None:
    wrapped, _, _ = _run(TRACE, wrapped=True)
    bare, _, _ = _run(TRACE, wrapped=False)
    assert len(wrapped) == len(bare) == len(TRACE)
    for sent, written in zip(wrapped, bare, strict=True):
        assert _unmarked(sent) == _unmarked(written)
    assert any("cache_control" in json.dumps(body) for body in wrapped)


def test_a_single_request_learns_nothing() -> None:
    learner = LayerLearner()
    prompt = prompt_from_request(TRACE[0])
    assert learner.relayer(prompt) is prompt
    # Nor does the same request again: nothing changed between them.
    assert learner.relayer(prompt_from_request(TRACE[0])).layers == prompt.layers


def test_a_family_is_its_model_tools_and_first_system_block() -> None:
    learner = LayerLearner()
    other = {**TRACE[3], "system": [{"type": "text", "text": "Other rules. " * 800},
                                    *TRACE[3]["system"][1:]]}
    learner.relayer(prompt_from_request(TRACE[0]))
    # Another first system block: another family, with nothing learned yet.
    assert learner.relayer(prompt_from_request(other)).layers == prompt_from_request(other).layers
    assert len(learner) == 2
    relayered = learner.relayer(prompt_from_request(TRACE[3]))
    assert [layer.name for layer in relayered.layers] == ["system", "documents", "conversation"]


def test_a_block_that_changes_on_every_request_is_a_turn_layer() -> None:
    learner = LayerLearner()
    for n in range(5):
        prompt = learner.relayer(prompt_from_request(_request((n,), n)))
    assert ("documents", 1, 2, "turn") in [(la.name, la.start, la.stop, la.volatility.value)
                                           for la in prompt.layers]


def test_layers_a_builder_declared_are_left_alone() -> None:
    learner = LayerLearner()
    for docs in ((1, 2), (3, 4)):
        built = (PromptBuilder(MODEL).add_system(INSTRUCTIONS)
                 .add_documents([{"id": str(n), "text": f"text {n} " * 50} for n in docs])
                 .add_user_turn("q").build())
        assert learner.relayer(built) is built


def test_memory_is_bounded() -> None:
    learner = LayerLearner(max_families=8, max_positions=4)
    for n in range(50):
        request = {**_request((n, n + 1), n),
                   "system": [{"type": "text", "text": f"family {n}"},
                              *({"type": "text", "text": f"block {n} {k}"} for k in range(30))]}
        learner.relayer(prompt_from_request(request))
    assert len(learner) == 8
    held = [len(f.last) for f in learner._families.values()]
    assert max(held) == 4


def test_learned_cuts_stay_within_the_tracked_positions() -> None:
    learner = LayerLearner(max_positions=3)
    for n in range(3):
        prompt = learner.relayer(prompt_from_request(_request((1, 2, 3, n + 10), n)))
    # The change at system[4] is past the tracked positions: nothing is learned from it.
    assert prompt.layers == prompt_from_request(_request((1, 2, 3, 12), 2)).layers


@pytest.mark.parametrize("n", [2, 3])
def test_the_learner_is_shared_by_clients_of_one_state(n: int) -> None:
    clock = ManualClock()
    state = CacheState(clock=clock)
    with AnthropicServer(clock=clock) as server:
        clients = [wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                        state=state) for _ in range(n)]
        for i, request in enumerate(TRACE[:4]):
            clients[i % n].messages.create(**request)
        last = handle_of(clients[3 % n]).last
    assert last is not None and ("documents", 1, 4, "session") in _layers(last)


def test_the_first_messages_blocks_before_the_question_are_a_layer_from_the_first_request() -> None:
    def request(question: int) -> dict[str, Any]:
        return {"model": MODEL, "max_tokens": 64, "system": INSTRUCTIONS,
                "messages": [{"role": "user", "content": [
                    _doc(1), _doc(2), {"type": "text", "text": f"question {question}?"}]}]}

    learner = LayerLearner()
    for question in range(3):
        prompt = learner.relayer(prompt_from_request(request(question)))
        assert [(la.name, la.section, la.start, la.stop, la.volatility.value)
                for la in prompt.layers] == [
            ("system", "system", 0, 1, "static"), ("documents", "messages", 1, 3, "session"),
            ("conversation", "messages", 3, 4, "turn")]


def test_a_chat_whose_first_message_is_one_block_keeps_its_conversation_whole() -> None:
    learner = LayerLearner()
    for n in range(3):
        request = {"model": MODEL, "max_tokens": 64, "system": INSTRUCTIONS,
                   "messages": [{"role": "user", "content": f"hello {n}"},
                                {"role": "assistant", "content": "hi"},
                                {"role": "user", "content": "and then?"}]}
        prompt = prompt_from_request(request)
        assert learner.relayer(prompt) is prompt
