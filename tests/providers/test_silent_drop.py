"""No renderer loses content without a word: the silent-drop corpus.

Every renderer either sends each piece of a Prompt's content in the provider's nearest form (a
document's title and context as a text header before its text, a search result as text with its
title and source) or names the block in ``plan.dropped`` saying what was not sent (citations,
which only Anthropic has), with one :class:`DroppedContentWarning` for the render call whenever
it names anything, and none otherwise. The corpus (``tests/_corpus.py``) is the fuzz generator's
seeded requests plus the content it lacks: titles, ``add_documents`` context, citations switches,
citations on assistant text, search results.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from promptcache import DroppedContentWarning, PromptBuilder, PromptCacheError, PromptError
from promptcache.anthropic import prompt_from_request, render_anthropic
from promptcache.bedrock_converse import render_bedrock_converse
from promptcache.gemini import render_gemini
from promptcache.openai import render_openai_chat, render_openai_responses
from promptcache.optimizer import optimize
from promptcache.prompt import Prompt
from promptcache.providers.bedrock_converse.server import ConverseServer
from promptcache.providers.gemini.render import render_gemini_openai_compatible

from .._corpus import corpus, lost
from .._fuzz import recorded_warnings

Render = Callable[[Prompt], tuple[Any, tuple[str, ...]]]


def _anthropic(prompt: Prompt) -> tuple[Any, tuple[str, ...]]:
    return render_anthropic(prompt, optimize(prompt)), ()


def _provider(fn: Callable[..., Any], model: str) -> Render:
    def render(prompt: Prompt) -> tuple[Any, tuple[str, ...]]:
        rendered = fn(prompt, model=model)
        return rendered.kwargs, rendered.plan.dropped
    return render


def _wire(value: Any) -> Any:
    """``value`` with its bytes in base64, as botocore writes blobs on the wire."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _converse(prompt: Prompt) -> tuple[Any, tuple[str, ...]]:
    """Converse returns its kwargs alone: whatever it cannot send is a PromptError, not a drop."""
    return _wire(render_bedrock_converse(prompt, model=CONVERSE_MODEL)), ()


#: A Claude model on Bedrock: the Converse renderer is checked where citations exist.
CONVERSE_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

RENDERERS: dict[str, Render] = {
    "anthropic": _anthropic,
    "bedrock-converse": _converse,
    "openai-chat": _provider(render_openai_chat, "gpt-5.6"),
    "openai-chat-automatic": _provider(render_openai_chat, "gpt-4o"),
    "openai-responses": _provider(render_openai_responses, "gpt-5.6"),
    "gemini": _provider(render_gemini, "gemini-2.5-flash"),
    "gemini-openai-compatible": _provider(render_gemini_openai_compatible, "gemini-2.5-flash"),
}

CORPUS = corpus()

#: Prompts of the corpus each renderer must render (the rest refused with a PromptCacheError).
#: Converse refuses more: PDF, URL and content documents, search results and image tool results
#: have no rendering in promptcache yet, so it renders 93 of the 440.
FLOOR = {"bedrock-converse": 90}


def test_the_corpus_carries_the_content_renderers_used_to_lose() -> None:
    def count(pred: Callable[[dict[str, Any]], bool]) -> int:
        return sum(any(pred(dict(b.payload)) for b in p.blocks) for p in CORPUS)

    assert len(CORPUS) >= 351
    assert count(lambda b: b.get("type") == "document" and "title" in b) >= 100
    assert count(lambda b: b.get("type") == "document" and "context" in b) >= 100
    assert count(lambda b: isinstance(b.get("citations"), dict)) >= 50
    assert count(lambda b: b.get("type") == "text" and bool(b.get("citations"))) >= 50
    assert count(lambda b: b.get("type") == "search_result") >= 50


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_no_prompt_loses_content_without_a_dropped_entry_and_a_warning(name: str) -> None:
    render = RENDERERS[name]
    rendered = losing = dropping = untold = 0
    examples: list[str] = []
    for prompt in CORPUS:
        with recorded_warnings() as caught:
            try:
                request, dropped = render(prompt)
            except PromptCacheError:
                continue  # refused with a clear error: nothing is sent, nothing is lost
        rendered += 1
        missing = lost(prompt, request, dropped)
        if missing:
            losing += 1
            examples.extend(missing[:1])
        told = [w.message for w in caught if isinstance(w.message, DroppedContentWarning)]
        dropping += bool(dropped)
        # Exactly one warning when anything is dropped, carrying every entry; none otherwise.
        right = (len(told) == 1 and told[0].dropped == tuple(dropped)) if dropped else told == []
        if not right:
            untold += 1
            examples.append(f"{len(told)} warnings for dropped={list(dropped)[:2]}")
    assert rendered >= FLOOR.get(name, 300), f"{name} rendered only {rendered} prompts of the corpus"
    assert losing == 0, f"{losing} prompts lose content on {name}: {examples[:5]}"
    assert untold == 0, f"{untold} of {dropping} dropping prompts mis-warned on {name}: {examples[:5]}"
    if name in ("anthropic", "bedrock-converse"):
        assert dropping == 0  # these render every piece or refuse the prompt
    else:
        assert dropping >= 100, f"only {dropping} prompts drop anything on {name}"  # it was tested


def test_the_check_catches_a_title_left_out() -> None:
    prompt = CORPUS[-1]  # built with add_documents: titled documents with context
    request = render_anthropic(prompt, optimize(prompt))
    stripped = copy.deepcopy(request)
    for message in stripped["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else ():
            block.pop("title", None)
    assert lost(prompt, request, ()) == []
    assert lost(prompt, stripped, ()) != []
    path = next(b.path for b in prompt.blocks if b.payload.get("type") == "document")
    assert path not in " ".join(lost(prompt, stripped, (f"{path}: title not sent",)))
    # An entry about citations does not excuse a title left out.
    assert path in " ".join(lost(prompt, stripped, (f"{path}: citations.enabled not sent",)))


def _documents(citations: bool) -> Prompt:
    return (PromptBuilder(model="claude-sonnet-4-6").add_system("Answer from the documents.")
            .add_documents([{"id": "kb-7", "title": "Refunds", "text": "Refunds take 5 days.",
                             "metadata": {"team": "billing"}}], as_="document_blocks",
                           citations=citations)
            .add_user_turn("How long do refunds take?").set_params(max_tokens=64).build())


@pytest.mark.parametrize("render", [render_openai_chat, render_openai_responses])
def test_openai_sends_title_and_context_as_a_header_before_the_document(render: Any) -> None:
    rendered = render(_documents(False), model="gpt-5.6")
    items = rendered.kwargs["messages" if render is render_openai_chat else "input"]
    texts = [p["text"] for item in items if item.get("role") == "user"
             for p in item["content"]]
    assert "Title: Refunds\nContext: id: kb-7\nteam: billing\n\nRefunds take 5 days." in texts
    assert rendered.plan.dropped == ()


def test_gemini_sends_title_and_context_as_a_header_before_the_document() -> None:
    rendered = render_gemini(_documents(False), model="gemini-2.5-flash")
    texts = [p.get("text") for c in rendered.kwargs["contents"] for p in c["parts"]]
    assert "Title: Refunds\nContext: id: kb-7\nteam: billing\n\nRefunds take 5 days." in texts
    assert rendered.plan.dropped == ()


@pytest.mark.parametrize("render,model", [(render_openai_chat, "gpt-4o"),
                                          (render_openai_responses, "gpt-5.6"),
                                          (render_gemini, "gemini-2.5-flash")])
def test_a_citations_switch_is_reported_where_the_provider_has_none(render: Any, model: str) -> None:
    with pytest.warns(DroppedContentWarning, match="citations.enabled not sent"):
        rendered = render(_documents(True), model=model)
    assert any("citations.enabled not sent" in d for d in rendered.plan.dropped), rendered.plan.dropped


def test_converse_sends_a_citations_switch_as_its_document_block() -> None:
    kwargs = render_bedrock_converse(_documents(True), model=CONVERSE_MODEL)
    docs = [b["document"] for m in kwargs["messages"] for b in m["content"] if "document" in b]
    assert docs == [{"format": "txt", "name": "Refunds", "source": {"text": "Refunds take 5 days."},
                     "context": "id: kb-7\nteam: billing", "citations": {"enabled": True}}]


def test_converse_refuses_redacted_thinking_that_is_not_base64() -> None:
    prompt = prompt_from_request({"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "not base64!"},
                                          {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "Go on."}]})
    with pytest.raises(PromptError) as raised:
        render_bedrock_converse(prompt, model=CONVERSE_MODEL)
    assert raised.value.path == "messages[1].content[0].data"
    assert "must be base64" in str(raised.value)


def test_every_converse_rendering_of_the_corpus_is_accepted_by_boto3() -> None:
    """boto3 validates each request against its bedrock-runtime model (document names, the
    citations config, citationsContent): a field Converse lacks fails here, not on AWS."""
    sent = 0
    with ConverseServer() as server:
        client = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test",
                              config=Config(retries={"max_attempts": 1}))
        for prompt in CORPUS:
            with recorded_warnings():
                try:
                    kwargs = render_bedrock_converse(prompt, model=CONVERSE_MODEL)
                except PromptCacheError:
                    continue
            client.converse(**kwargs)
            sent += 1
    assert sent >= FLOOR["bedrock-converse"]
