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
from promptcache.diagnostics import lint_request

from ._fuzz import KNOWN, KNOWN_REJECTED

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
