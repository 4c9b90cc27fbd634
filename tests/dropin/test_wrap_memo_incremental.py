"""The incremental memo never changes what is sent: each request planned through the memo (which
compares the matched prefix by content and type, and reads only the new messages) gives the very
kwargs the same request gives planned from scratch, with the same CacheState.

No request is sent (planning only, as ``wrap`` does before the SDK call), so the state does not
move between the two plans.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from promptcache import CacheState
from promptcache.dropin import wrap
from promptcache.dropin._core import WrapHandle, WrappedMethod
from promptcache.dropin._wrap import _spec, _targets
from promptcache.errors import RuleViolation

MODEL = "claude-sonnet-4-6"
SYSTEM = "You are terse. " + " ".join(f"rule{i}" for i in range(1_200))


class Text(str):
    """A str subclass: equal to the plain string, but not sent as a mirrored block."""


def _handle() -> tuple[WrapHandle, WrappedMethod]:
    client = wrap(anthropic.Anthropic(api_key="t", base_url="http://127.0.0.1:9"),
                  state=CacheState())
    endpoint = next(e for _, m, e in _targets(client, _spec(client))
                    if e.name == "messages.create")
    return client.promptcache, endpoint  # type: ignore[attr-defined]


def _plans_alike(requests: list[Callable[[], dict[str, Any]]]) -> None:
    handle, endpoint = _handle()
    for make in requests:
        kwargs = make()
        written = copy.deepcopy(kwargs)
        memo = handle.memo
        through = endpoint.prepare(kwargs, handle)
        handle.memo = None
        fresh = endpoint.prepare(kwargs, handle)
        handle.memo = memo
        assert through.kwargs == fresh.kwargs
        assert [type(m) for m in through.kwargs["messages"]] == \
            [type(m) for m in fresh.kwargs["messages"]]
        assert kwargs == written  # the caller's request is never changed


def _turn(i: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": f"question {i} " * 40}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"answer {i} " * 60}]}]


def test_append_edit_in_place_and_swap_types_plan_as_from_scratch() -> None:
    history: list[Any] = []
    for i in range(6):
        history += _turn(i)
    history.append({"role": "user", "content": "go on"})

    def request() -> dict[str, Any]:
        return {"model": MODEL, "max_tokens": 64, "system": SYSTEM, "messages": list(history)}

    def append() -> dict[str, Any]:
        history[-1:] = [*_turn(99), {"role": "user", "content": "and?"}]
        return request()

    def edit_old_block() -> dict[str, Any]:
        history[2]["content"].append({"type": "text", "text": "added later " * 30})
        return request()

    def string_to_blocks() -> dict[str, Any]:
        history[-1]["content"] = [{"type": "text", "text": "and?"}]
        return request()

    def ordered_dict_message() -> dict[str, Any]:  # equal by ==, but not a plain dict
        history[4] = OrderedDict(history[4])
        return request()

    def plain_str_content() -> dict[str, Any]:
        history[-1]["content"] = "and?"
        return request()

    def str_subclass_content() -> dict[str, Any]:  # equal by ==, but not a plain str
        history[-1]["content"] = Text(history[-1]["content"])
        return request()

    def back_to_str() -> dict[str, Any]:
        history[-1]["content"] = str(history[-1]["content"])
        return request()

    def back_to_plain() -> dict[str, Any]:
        history[4] = dict(history[4])
        return request()

    def pop_and_regenerate() -> dict[str, Any]:
        del history[-2:]
        history.append({"role": "user", "content": "retry"})
        return request()

    _plans_alike([request, request, append, edit_old_block, request, string_to_blocks,
                  ordered_dict_message, request, plain_str_content, request, str_subclass_content,
                  request, back_to_str, request, back_to_plain,
                  append, pop_and_regenerate, append])


def test_a_role_the_api_refuses_is_caught_after_a_memoised_prefix() -> None:
    handle, endpoint = _handle()
    history: list[Any] = [*_turn(0), {"role": "user", "content": "next"}]
    endpoint.prepare({"model": MODEL, "max_tokens": 8, "messages": list(history)}, handle)
    history += [{"role": "assistant", "content": "ok"}, {"role": "system", "content": "x"}]
    with pytest.raises(RuleViolation, match=r"messages\[4\]\.role"):
        endpoint.prepare({"model": MODEL, "max_tokens": 8, "messages": list(history)}, handle)
    history[4] = {"role": "user", "content": "x"}
    history[1] = {"role": "system", "content": "edited in place"}  # an old turn, now refused
    with pytest.raises(RuleViolation, match=r"messages\[1\]\.role"):
        endpoint.prepare({"model": MODEL, "max_tokens": 8, "messages": list(history)}, handle)
