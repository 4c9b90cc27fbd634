"""Checks and comparisons of a conversation's history, shared by the session core and its edits.

Pure functions of messages and fingerprints: what the API would reject (an unanswered tool call)
and where two requests first differ in what the cache sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptcache.errors import RuleViolation

__all__ = ["blocks_of", "check_history", "first_difference"]


def blocks_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list | tuple):
        return []  # not blocks at all (``content=1.5``): the builder names it, with its path
    return [b for b in content if isinstance(b, Mapping)]


def check_history(messages: Sequence[Mapping[str, Any]], *, start: int = 0) -> None:
    """Raise when a tool_use is not answered by a tool_result in the next user message, or a
    tool_result answers no tool_use of the assistant turn before it.

    The APIs reject such a history with a 400; catching it here names the message, at the edit
    or the send that would make it. ``start`` is the index of ``messages[0]`` in the whole
    history, so a check of the newest messages alone (what a session does on every send) still
    names the right path; there, ``messages[0]`` is the turn the new message follows.
    """
    for i, message in enumerate(messages):
        if message.get("role") == "user" and (i > 0 or start == 0):
            _check_answers(messages[i - 1] if i > 0 else None, message, start + i)
        if message.get("role") != "assistant":
            continue
        ids = [b.get("id") for b in blocks_of(message) if b.get("type") == "tool_use"]
        if not ids or i == len(messages) - 1:
            continue
        following = messages[i + 1]
        answered = {b.get("tool_use_id") for b in blocks_of(following)
                    if b.get("type") == "tool_result"} if following.get("role") == "user" else set()
        missing = [x for x in ids if x not in answered]
        if missing:
            at, prev = start + i + 1, start + i
            raise RuleViolation(
                f"messages[{at}]: the tool_use blocks {missing} of messages[{prev}] have no "
                "tool_result in the next user message; the API rejects the history. Answer every "
                "tool call (send_tool_results) or remove both turns.",
                path=f"messages[{at}]", rule="tool-result-pairing",
            )


def _check_answers(previous: Mapping[str, Any] | None, message: Mapping[str, Any],
                   index: int) -> None:
    """Raise when ``message`` (``messages[index]``) holds a tool_result whose tool_use is not in
    the assistant turn ``previous``: half a pair, which the API rejects."""
    results = [b.get("tool_use_id") for b in blocks_of(message) if b.get("type") == "tool_result"]
    if not results:
        return
    # A list, not a set: an id the user wrote may be any value (a dict is unhashable), and the
    # pairing check must name it, not raise a TypeError.
    asked = ([b.get("id") for b in blocks_of(previous) if b.get("type") == "tool_use"]
             if previous is not None and previous.get("role") == "assistant" else [])
    orphans = [r for r in results if r not in asked]
    if orphans:
        where = (f"messages[{index - 1}]" if previous is not None
                 else "no assistant turn (it is the first message)")
        raise RuleViolation(
            f"messages[{index}]: the tool_result blocks for {orphans} answer no tool_use of "
            f"{where}; the API rejects the history. Remove the tool_use turn and its results "
            "together.", path=f"messages[{index}]", rule="tool-result-pairing")


def first_difference(before: tuple[str, ...], after: tuple[str, ...]) -> int | None:
    """Index of the first position whose prefix fingerprint differs; None if one extends the other."""
    for i, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            return i
    return None if len(after) >= len(before) else len(after)
