"""wrap() never sends a request the caller did not write, however the caller keeps its history.

User code owns its message list and edits it: appends, rebuilds, pops to regenerate, slides a
window, and edits messages it already sent, in place. Each pattern is run twice against the
loopback server, once through the bare SDK and once wrapped; the wrapped body must be the bare
body plus cache markers only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.dropin import wrap
from promptcache.testing import AnthropicServer

MODEL = "claude-sonnet-4-6"
SYSTEM = "You answer from the manual. " + " ".join(f"rule{i}" for i in range(1_200))
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==")
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}

Messages = list[dict[str, Any]]
#: Each pattern: the first request's messages, then an edit made before the second request.
Edit = Callable[[Messages], Messages]


def _append_block(m: Messages) -> Messages:
    m[0]["content"].append({"type": "text", "text": "second part"})
    return m


def _drop_image(m: Messages) -> Messages:
    m[0]["content"].pop(0)
    return m


def _string_to_blocks(m: Messages) -> Messages:
    m[0]["content"] = [{"type": "text", "text": m[0]["content"]},
                       {"type": "text", "text": "and more"}]
    return m


def _clear_tool_result(m: Messages) -> Messages:
    m[2]["content"][0]["content"] = "[cleared]"
    return m


def _edit_text(m: Messages) -> Messages:
    m[0]["content"][0]["text"] = "first part, edited"
    return m


def _rebuild(m: Messages) -> Messages:
    return [dict(x) for x in m] + [{"role": "assistant", "content": "ok"},
                                   {"role": "user", "content": "next"}]


def _pop(m: Messages) -> Messages:
    m.pop()
    m.append({"role": "user", "content": "asked differently"})
    return m


def _window(m: Messages) -> Messages:
    del m[:2]
    m.append({"role": "assistant", "content": "ok"})
    m.append({"role": "user", "content": "next"})
    return m


def _append(m: Messages) -> Messages:
    m.append({"role": "assistant", "content": "ok"})
    m.append({"role": "user", "content": "next"})
    return m


def _blocks_history() -> Messages:
    return [{"role": "user", "content": [{"type": "text", "text": "first part"}]}]


def _image_history() -> Messages:
    return [{"role": "user", "content": [IMAGE, {"type": "text", "text": "what is this?"}]}]


def _string_history() -> Messages:
    return [{"role": "user", "content": "first part"}]


def _tool_history() -> Messages:
    return [{"role": "user", "content": "look it up"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "search",
                                               "input": {"q": "router"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": "result " * 300}]},
            {"role": "assistant", "content": "found it"},
            {"role": "user", "content": "thanks"}]


TOOLS = [{"name": "search", "description": "Search the manual. " * 40,
          "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]

PATTERNS: dict[str, tuple[Callable[[], Messages], Edit]] = {
    "append": (_string_history, _append),
    "rebuild": (_string_history, _rebuild),
    "regenerate-pop": (_tool_history, _pop),
    "sliding-window": (_tool_history, _window),
    "in-place-append-block": (_blocks_history, _append_block),
    "in-place-drop-image": (_image_history, _drop_image),
    "in-place-string-to-blocks": (_string_history, _string_to_blocks),
    "in-place-clear-tool-result": (_tool_history, _clear_tool_result),
    "in-place-edit-text": (_blocks_history, _edit_text),
}


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without cache markers, strings spelled as the one text block they stand for."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = strip(body)
    if isinstance(out.get("system"), str):
        out["system"] = [{"type": "text", "text": out["system"]}]
    for message in out.get("messages", []):
        if isinstance(message.get("content"), str):
            message["content"] = [{"type": "text", "text": message["content"]}]
    return out


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


def _bodies(server: AnthropicServer, client: Any, history: Messages, edit: Edit,
            tools_edit: bool) -> list[dict[str, Any]]:
    tools = copy.deepcopy(TOOLS)
    before = len(server.requests)
    client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, tools=tools,
                           messages=history)
    history = edit(history)
    if tools_edit:
        tools.append({"name": "fetch", "description": "Fetch a page.",
                      "input_schema": {"type": "object"}})
    client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, tools=tools,
                           messages=history)
    return [r.json() for r in server.requests[before:]]


@pytest.mark.parametrize("tools_edit", [False, True], ids=["same-tools", "tool-appended"])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_the_wrapped_body_is_the_bare_body_plus_markers(server: AnthropicServer, pattern: str,
                                                       tools_edit: bool) -> None:
    make, edit = PATTERNS[pattern]
    bare = anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0)
    wrapped = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                   state=CacheState())
    expected = _bodies(server, bare, make(), edit, tools_edit)
    sent = _bodies(server, wrapped, make(), edit, tools_edit)
    assert [_normalised(b) for b in sent] == [_normalised(b) for b in expected]
    assert wrapped.promptcache.planned == 2


def test_a_history_shared_by_two_branches_sends_each_branch(server: AnthropicServer) -> None:
    wrapped = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                   state=CacheState())
    trunk = _tool_history()
    branches = [[*trunk, {"role": "assistant", "content": "a"}, {"role": "user", "content": x}]
                for x in ("left", "right")]
    for branch in (trunk, *branches, trunk):
        wrapped.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=branch)
    trunk[0]["content"] = "look it up, edited"  # shared by both branches' lists
    for branch in branches:
        wrapped.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=branch)
    last = [_normalised(r.json())["messages"] for r in server.requests[-2:]]
    assert [m[0]["content"][0]["text"] for m in last] == ["look it up, edited"] * 2
    assert [m[-1]["content"][0]["text"] for m in last] == ["left", "right"]
