"""Failures the fuzz found in modules other engineers own, pinned until they are fixed.

Each test reproduces one root cause with the smallest input the fuzz shrank to, and is an
``xfail(strict=True)``: while the bug is there it xfails, and the day it is fixed it passes, which
strict turns into a failure, so the pin and its entry in ``tests/_fuzz.py:KNOWN`` are removed
together. Until then the fuzz tolerates exactly that exception type from exactly that module and
keeps looking for others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from promptcache import (
    Document,
    PromptBuilder,
    PromptCacheError,
    diff_requests,
    optimize,
    parse_usage,
    prompt_from_request,
    render_anthropic,
    validate,
)
from promptcache.diagnostics import lint_request, lint_trace
from promptcache.gemini import render_gemini, render_gemini_openai_compatible
from promptcache.openai import render_openai_chat, render_openai_responses

from .._fuzz import KNOWN, KNOWN_REJECTED

_LIST_TYPE = {"model": "claude-sonnet-4-6", "max_tokens": 5,
              "messages": [{"role": "user", "content": [{"type": []}]}]}

_PLAIN = {"model": "claude-sonnet-4-6", "max_tokens": 5,
          "messages": [{"role": "user", "content": "hi"}]}

_SURROGATE = {**_PLAIN, "model": "claude-\ud800"}

def _document_with_a_surrogate() -> None:
    prompt = (PromptBuilder("claude-sonnet-4-6").add_documents([Document(id="\ud800", text="x")])
              .add_user_turn("hi").set_params(max_tokens=5).build())
    try:
        request = render_anthropic(prompt)
    except PromptCacheError:
        return
    try:
        validate(request, warn=False)
    except PromptCacheError as e:  # the bug: promptcache rendered a request it then refuses
        raise AssertionError(str(e)) from e


_USAGE_ERRORS = (TypeError, ValueError, OverflowError)


def _deep_tool(levels: int = 300) -> Any:
    schema: Any = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return (PromptBuilder("claude-sonnet-4-6").add_tools([{"name": "t", "input_schema": schema}])
            .add_user_turn("hi").set_params(max_tokens=5).build())


def _turn(content: Any, **params: Any) -> Any:
    return PromptBuilder("claude-sonnet-4-6").add_user_turn(content).set_params(max_tokens=5,
                                                                               **params).build()


_NO_TURNS = PromptBuilder("claude-sonnet-4-6").add_system("s").set_params(max_tokens=5)
_MIXED_KEYS = {None: 1, 1: 2}


def _session(*args: Any, **kwargs: Any) -> Any:
    """A ChatSession over a client that is never reached (every case fails before sending)."""
    import anthropic

    from promptcache import ChatSession

    with anthropic.Anthropic(api_key="x", base_url="http://127.0.0.1:9", max_retries=0) as client:
        chat = ChatSession(client, model="claude-sonnet-4-6", **kwargs)
        if args:
            chat.send(args[0])


def _sqlite_under_a_file() -> None:
    import tempfile
    import warnings
    from pathlib import Path

    from promptcache.cache import SQLiteBackend

    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (Path(root) / "f").write_text("x")
        backend = SQLiteBackend(Path(root) / "f" / "responses.sqlite3")
        try:
            backend.get("k")
        finally:
            backend.close()

#: (module, the KNOWN exception type or None for a KNOWN_REJECTED entry, the smallest repro).
PINS: list[tuple[str, Any, Callable[[], Any]]] = [
]


#: Fixed, and kept as plain tests: each must raise nothing but a PromptCacheError.
FIXED: list[Callable[[], Any]] = [
    lambda: optimize(None),  # type: ignore[arg-type]
    lambda: optimize({"model": "claude-sonnet-4-6"}),  # type: ignore[arg-type]
    lambda: prompt_from_request(_PLAIN).extend(1.5),  # type: ignore[arg-type]
    lambda: lint_request(_LIST_TYPE),
    lambda: diff_requests(_LIST_TYPE, _LIST_TYPE),
    lambda: diff_requests(_SURROGATE, _PLAIN),
    lambda: parse_usage({"input_tokens": {}, "output_tokens": 1}, provider="anthropic"),
    lambda: parse_usage({"input_tokens": float("inf"), "output_tokens": 1}, provider="anthropic"),
    lambda: parse_usage({"input_tokens": "", "output_tokens": 1}, provider="anthropic"),
    lambda: parse_usage({"input_tokens": -3, "output_tokens": 1}, provider="anthropic"),
    # A key of type bytes inside a block (json.dumps raised TypeError): a PromptError names it.
    lambda: prompt_from_request({**_PLAIN, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": "x", "is_error": {b"x": 1}}]}]}),
    lambda: PromptBuilder("claude-sonnet-4-6").add_system(
        [{"type": "text", "text": "x", "citations": {b"k": 1}}]).add_user_turn("q").build(),
    # Issue 21 item 4: the 15 bare-exception sites (RecursionError, TypeError, KeyError, OSError).
    lambda: render_openai_chat(_deep_tool(), model="gpt-4o"),
    lambda: render_openai_responses(_deep_tool(), model="gpt-4o"),
    lambda: render_gemini(_deep_tool(), model="gemini-2.5-flash"),
    lambda: render_openai_chat(_turn("hi", stop_sequences=None), model="gpt-4o"),
    lambda: render_gemini_openai_compatible(_turn("hi", stop_sequences=None), model="gemini-2.5-flash"),
    lambda: render_openai_chat(_turn([{"type": "tool_result", "tool_use_id": "t", "content": 5}]),
                               model="gpt-4o"),
    lambda: render_openai_responses(_turn([{"type": "tool_result", "tool_use_id": "t",
                                            "content": [{"type": "text"}]}]), model="gpt-4o"),
    lambda: diff_requests({**_PLAIN, "thinking": _MIXED_KEYS}, {**_PLAIN, "thinking": {1: 3, None: 1}}),
    lambda: lint_trace([(0, {**_PLAIN, "thinking": _MIXED_KEYS}), (1, {**_PLAIN, "thinking": _MIXED_KEYS})]),
    lambda: diff_requests({**_PLAIN, "tools": 5}, _PLAIN),
    lambda: lint_request({**_PLAIN, "tools": 5}),
    lambda: _session(tools=5),
    lambda: _session(system=5),
    lambda: _session(history=[{"role": "user", "content": "q"}, {"role": "assistant", "content": 1.5}]),
    lambda: _session(None),
    lambda: _session(5),
    _sqlite_under_a_file,
    # Issue 21 item 8: a prompt with no turns is an empty message list no API accepts.
    lambda: render_openai_chat(_NO_TURNS.build(), model="gpt-4o"),
    lambda: render_openai_responses(_NO_TURNS.build(), model="gpt-4o"),
    lambda: render_gemini(_NO_TURNS.build(), model="gemini-2.5-flash"),
    lambda: render_gemini_openai_compatible(_NO_TURNS.build(), model="gemini-2.5-flash"),
]


@pytest.mark.parametrize("call", FIXED)
def test_formerly_known_failure_raises_only_promptcache_errors(call: Callable[[], Any]) -> None:
    with contextlib.suppress(PromptCacheError):
        call()


def _reason(module: str, kind: Any) -> str:
    entries: list[tuple[Any, str, str]] = [*KNOWN, *KNOWN_REJECTED]
    return next(reason for k, m, reason in entries
                if m == module and (kind is None or k == kind))


@pytest.mark.parametrize(("module", "call"), [
    pytest.param(module, call, marks=pytest.mark.xfail(strict=True, reason=_reason(module, kind)),
                 id=f"{module.rsplit('/', 1)[1]}-{i}")
    for i, (module, kind, call) in enumerate(PINS)])
def test_known_failure_is_fixed(module: str, call: Callable[[], Any]) -> None:
    with contextlib.suppress(PromptCacheError):
        call()


def test_every_known_failure_has_a_pin() -> None:
    assert {m for _, m, _ in [*KNOWN, *KNOWN_REJECTED]} == {m for m, _, _ in PINS}
