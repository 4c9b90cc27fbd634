"""Content a renderer leaves out is told: a DroppedContentWarning and a promptcache log record.

Called directly, the OpenAI and Gemini renderers warn on every render that drops anything, through
the standard filters (so pytest's ``filterwarnings = error`` makes it raise); a chat session warns
once per kind of loss and never raises; a wrapped client sends the caller's own request, so it
warns about nothing.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from google import genai
from google.genai import types

from promptcache import CacheWarning, DroppedContentWarning, PromptBuilder, wrap
from promptcache.clock import ManualClock
from promptcache.gemini import render_gemini, render_gemini_openai_compatible
from promptcache.openai import render_openai_chat, render_openai_responses
from promptcache.prompt import Prompt
from promptcache.providers import common
from promptcache.providers.common import dropped_kind
from promptcache.session import ChatSession
from promptcache.testing import GeminiServer, OpenAIServer
from tests.helpers import openai_client

RENDERERS: dict[str, tuple[Callable[..., Any], str]] = {
    "openai-chat": (render_openai_chat, "gpt-4o"),
    "openai-responses": (render_openai_responses, "gpt-5.6"),
    "gemini": (render_gemini, "gemini-2.5-flash"),
    "gemini-openai-compatible": (render_gemini_openai_compatible, "gemini-2.5-flash"),
}


@pytest.fixture(autouse=True)
def fresh_once_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no kind of loss logged or warned about yet."""
    monkeypatch.setattr(common, "_LOGGED", set())
    monkeypatch.setattr(common, "_WARNED", set())


def _thinking(turns: int = 2, **params: Any) -> Prompt:
    """A conversation whose assistant turns carry Claude's thinking: no other provider takes it."""
    messages: list[dict[str, Any]] = []
    for k in range(turns):
        messages.append({"role": "user", "content": f"Question {k}?"})
        messages.append({"role": "assistant", "content": [
            {"type": "thinking", "thinking": f"Let me think {k}.", "signature": "c2ln"},
            {"type": "text", "text": f"Answer {k}."}]})
    messages.append({"role": "user", "content": "And now?"})
    return (PromptBuilder(model="claude-sonnet-4-6").add_system("Answer briefly.")
            .add_messages(messages).set_params(max_tokens=64, **params).build())


def _plain() -> Prompt:
    return (PromptBuilder(model="claude-sonnet-4-6").add_system("Answer briefly.")
            .add_user_turn("Hello?").set_params(max_tokens=64).build())


def _cited_document(text: str = "What does it say?") -> list[dict[str, Any]]:
    return [{"type": "document", "title": "Refunds", "citations": {"enabled": True},
             "source": {"type": "text", "media_type": "text/plain", "data": "Refunds take 5 days."}},
            {"type": "text", "text": text}]


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_one_warning_per_render_names_every_entry(name: str) -> None:
    render, model = RENDERERS[name]
    with pytest.warns(DroppedContentWarning) as caught:
        rendered = render(_thinking(3), model=model)
    assert len(caught) == 1
    warning = caught[0].message
    assert isinstance(warning, DroppedContentWarning)
    assert len(rendered.plan.dropped) == 3  # one thinking block per assistant turn
    assert warning.dropped == rendered.plan.dropped
    assert warning.path == "messages[1].content[0]"
    assert warning.rule == "dropped-content"
    assert warning.provider == rendered.plan.provider and warning.api == rendered.plan.api
    for entry in rendered.plan.dropped:
        assert entry in str(warning)
    assert caught[0].filename == __file__  # points at the caller's line, not promptcache's


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_nothing_is_warned_when_nothing_is_dropped(name: str) -> None:
    render, model = RENDERERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rendered = render(_plain(), model=model)
    assert rendered.plan.dropped == ()


def test_under_error_filters_a_direct_render_raises() -> None:
    """pytest's ``filterwarnings = error`` here: a lossy render is an error, a strict mode."""
    with pytest.raises(DroppedContentWarning, match=r"messages\[1\]\.content\[0\]: thinking"):
        render_openai_chat(_thinking(), model="gpt-4o")


def test_the_warning_is_a_cache_warning_and_a_user_warning() -> None:
    assert issubclass(DroppedContentWarning, CacheWarning)
    assert issubclass(DroppedContentWarning, UserWarning)


def test_a_long_list_is_shortened_in_the_message_but_kept_whole_on_the_warning() -> None:
    with pytest.warns(DroppedContentWarning) as caught:
        rendered = render_gemini(_thinking(8), model="gemini-2.5-flash")
    warning = caught[0].message
    assert isinstance(warning, DroppedContentWarning)
    assert len(warning.dropped) == 8 == len(rendered.plan.dropped)
    assert "and 3 more" in str(warning)
    assert rendered.plan.dropped[-1] not in str(warning)


def test_off_fills_plan_dropped_without_a_warning_or_a_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="promptcache")
    rendered = render_openai_chat(_thinking(), model="gpt-4o", on_dropped="off")
    assert len(rendered.plan.dropped) == 2
    assert [r for r in caplog.records if r.name == "promptcache"] == []


def test_once_warns_once_per_kind_and_never_raises() -> None:
    render_openai_chat(_plain(), model="gpt-4o", on_dropped="once")  # nothing dropped
    with pytest.warns(DroppedContentWarning):
        render_openai_chat(_thinking(2), model="gpt-4o", on_dropped="once")
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        render_openai_chat(_thinking(4), model="gpt-4o", on_dropped="once")  # same kind, later turns
    assert again == []
    # A new kind is told, and under error filters it is swallowed, not raised.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_gemini(_thinking(2), model="gemini-2.5-flash", on_dropped="once")
    with warnings.catch_warnings(record=True) as other:
        warnings.simplefilter("always")
        render_openai_responses(_thinking(2), model="gpt-5.6", on_dropped="once")
    assert [type(w.message) for w in other] == [DroppedContentWarning]  # another API, told


def test_the_log_record_is_written_once_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="promptcache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedContentWarning)
        for turns in (1, 2, 3):
            render_openai_chat(_thinking(turns), model="gpt-4o")
        render_openai_chat(_thinking(1, top_k=5), model="gpt-4o")  # one new kind: top_k
    records = [r for r in caplog.records if r.name == "promptcache"]
    assert [r.levelno for r in records] == [logging.WARNING] * 2
    assert [getattr(r, "promptcache_cause", None) for r in records] == ["dropped-content"] * 2
    assert getattr(records[0], "promptcache_dropped", None) == [
        "messages[1].content[0]: thinking block dropped (OpenAI cannot take another model's "
        "reasoning)"]
    assert "top_k: not sent" in records[1].getMessage()


def test_a_kind_of_loss_ignores_list_indices_only() -> None:
    assert dropped_kind("messages[3].content[1]: a thinking block") == \
        dropped_kind("messages[7].content[0]: a thinking block")
    assert dropped_kind("top_k: not sent") != dropped_kind("thinking: not sent")


# -- through a chat session and a wrapped client ---------------------------------------------


def test_a_session_tells_a_loss_once_and_never_fails_the_turn(openai_server: OpenAIServer) -> None:
    with openai_client(openai_server) as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat = ChatSession(client, model="gpt-4o", system="Answer from the document.",
                           clock=ManualClock())
        chat.send(_cited_document())
        chat.send("And how long for store credit?")  # the document is still in the history
        chat.send("Thanks.")
    told = [w for w in caught if isinstance(w.message, DroppedContentWarning)]
    assert len(told) == 1
    assert "citations.enabled not sent" in str(told[0].message)
    assert len(openai_server.requests) == 3


def test_a_session_under_error_filters_still_sends(openai_server: OpenAIServer) -> None:
    """This test runs under pytest's ``filterwarnings = error``: the turn must not fail."""
    with openai_client(openai_server) as client:
        chat = ChatSession(client, model="gpt-4o", system="Answer from the document.",
                           clock=ManualClock())
        reply = chat.send(_cited_document())
    assert reply.text
    sent = json.loads(openai_server.requests[-1].body)
    assert "Refunds take 5 days." in json.dumps(sent)


def test_a_wrapped_client_sends_the_callers_request_and_warns_about_nothing(
        openai_server: OpenAIServer) -> None:
    """A hosted tool is outside the plan's model (``last.summary.dropped`` says so), but the
    wrapper sends the caller's own tools: nothing is lost, so nothing is warned."""
    request = {"model": "gpt-5", "input": "What is new today?",
               "tools": [{"type": "web_search"}], "instructions": "Answer briefly."}
    with openai_client(openai_server) as raw, warnings.catch_warnings():
        warnings.simplefilter("error")
        client = wrap(raw)
        client.responses.create(**request)
        summary = client.promptcache.last.summary
    assert summary is not None and summary.dropped  # the planning view could not model it
    assert json.loads(openai_server.requests[-1].body)["tools"] == [{"type": "web_search"}]


def test_a_wrapped_gemini_client_warns_about_nothing() -> None:
    with GeminiServer(clock=ManualClock()) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        client = wrap(genai.Client(api_key="test",
                                   http_options=types.HttpOptions(base_url=server.url)))
        client.models.generate_content(
            model="gemini-2.5-flash", contents="What is new today?",
            config={"tools": [{"google_search": {}}], "system_instruction": "Answer briefly."})
        summary = client.promptcache.last.summary
    assert summary is not None and summary.dropped
    assert json.loads(server.requests[-1].body)["tools"] == [{"googleSearch": {}}]
