"""Generators shared by the fuzz tests: junk values, near-valid blocks, requests and responses.

Near-valid inputs find more than pure junk: a request that is right except for one missing or
wrong field reaches deep into the renderers, where a bare ``payload["name"]`` would raise
KeyError. Every text carries a unique word (``w<n>``) so a test can tell whether it survived.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from promptcache import CacheWarning, PromptCacheError

T = TypeVar("T")

#: Every fuzz test: the same inputs on every run (CI must not be flaky), no example database
#: (nothing written to the tree), no per-example deadline (CI machines differ).
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

def scaled(budget: dict[str, int]) -> dict[str, int]:
    """``budget`` times ``PROMPTCACHE_FUZZ_SCALE`` (default 1: CI runs the stated budget as is).

    For a local soak (``PROMPTCACHE_FUZZ_SCALE=10``) or a quick look (``0.05``).
    """
    scale = float(os.environ.get("PROMPTCACHE_FUZZ_SCALE", "1"))
    return {k: max(1, int(v * scale)) for k, v in budget.items()}


KEYS = ["type", "text", "role", "content", "name", "id", "tool_use_id", "input", "input_schema",
        "source", "data", "media_type", "url", "cache_control", "ttl", "thinking", "signature",
        "is_error", "title", "model", "messages", "system", "tools", "max_tokens", "tool_choice",
        "citations", "context", "description", "disable_parallel_tool_use"]

#: Leaves that are hard on code: wrong types, a lone surrogate, NUL, RTL mark, emoji, quotes,
#: backslashes, bytes, NaN, huge and negative numbers, and valid-looking type names.
ODD = [None, True, False, 0, -1, 2**40, 1.5, float("nan"), float("inf"), "", " ", "\ud800",
       "\x00", "\u200f", "😀", '"', "\\", "<a>", "é", b"x", "text", "image", "tool_use",
       "tool_result", "user", "assistant", "ephemeral", "1h", "5m", "claude-sonnet-4-6"]

#: Mapping keys that are hard on code: odd strings, bytes, and non-strings that ``sort_keys``
#: cannot order against each other (``None`` and ``1``: issue 21).
ODD_KEYS = [*ODD[10:20], None, 1, 1.5, True]

MODELS = ["claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-1", "claude-3-haiku-20240307"]
MARKERS = [None, None, None, {"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"},
           {"type": "ephemeral", "ttl": "5m"}]
IMAGE_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
             "RU5ErkJggg==")


class Gen:
    """Builds inputs from a seeded ``random.Random``.

    Hypothesis draws the seed (derandomized, so every run sees the same inputs) and the test
    prints the input on failure; building the structure in plain Python instead of nested
    strategies is what lets ten thousand inputs run in the time budget (about 0.2 ms an input,
    against 30 ms for the equivalent composite strategies).
    """

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def junk(self, depth: int = 2) -> Any:
        r = self.r
        roll = r.random()
        if depth <= 0 or roll < 0.55:
            return r.choice(ODD) if r.random() < 0.7 else "".join(
                r.choice(["a", "é", "\ud800", "\x00", " ", "😀"]) for _ in range(r.randint(0, 4)))
        if roll < 0.75:
            return [self.junk(depth - 1) for _ in range(r.randint(0, 3))]
        return {(r.choice(KEYS) if r.random() < 0.8 else r.choice(ODD_KEYS)): self.junk(depth - 1)
                for _ in range(r.randint(0, 3))}

    def words(self, size: int | None = None) -> str:
        """A unique marker word followed by filler: ``w17 lorem lorem ...``."""
        r = self.r
        n = size if size is not None else r.choice([1, 3, 40, 400])
        return f"w{r.randint(0, 10**9)} " + " ".join([r.choice(["lorem", "x", "δ", '"q"'])] * n)

    def mutate(self, value: dict[str, Any], rate: float = 0.04) -> dict[str, Any]:
        """``value`` with, sometimes, one key removed or one value replaced by junk."""
        if not value or not self.chance(rate):
            return value
        out = dict(value)
        key = self.r.choice(sorted(out))
        if self.chance(0.5):
            del out[key]
        else:
            out[key] = self.junk()
        return out

    def marked(self, block: dict[str, Any]) -> dict[str, Any]:
        marker = self.r.choice(MARKERS)
        return {**block, "cache_control": marker} if marker else block

    def text_block(self) -> dict[str, Any]:
        return self.mutate(self.marked({"type": "text", "text": self.words()}))

    def user_block(self) -> Any:
        kind = self.r.choice(["text", "text", "text", "image", "document", "tool_result",
                              "tool_result_rich"] + (["junk"] if self.chance(0.15) else []))
        if kind == "text":
            return self.text_block()
        if kind == "image":
            source = self.r.choice([{"type": "url", "url": "https://example.invalid/a.png"},
                                    {"type": "base64", "media_type": "image/png",
                                     "data": IMAGE_PNG}])
            return self.mutate(self.marked({"type": "image", "source": source}))
        if kind == "document":
            return self.mutate(self.marked({"type": "document", "source": {
                "type": "text", "media_type": "text/plain", "data": self.words()}}))
        if kind == "tool_result":
            return self.mutate(self.marked({"type": "tool_result", "tool_use_id": "toolu_1",
                                            "content": self.words()}))
        if kind == "tool_result_rich":
            content = [{"type": "text", "text": self.words()}, {"type": "image", "source": {
                "type": "url", "url": "https://example.invalid/b.png"}}]
            return self.mutate({"type": "tool_result", "tool_use_id": "toolu_1",
                                "is_error": self.chance(0.3), "content": content})
        return self.junk()

    def assistant_block(self) -> dict[str, Any]:
        kind = self.r.choice(["text", "text", "tool_use", "thinking", "redacted_thinking"])
        if kind == "text":
            return self.text_block()
        if kind == "tool_use":
            return self.mutate({"type": "tool_use", "id": "toolu_1", "name": "search",
                                "input": {"q": self.words(1)}})
        if kind == "thinking":
            return self.mutate({"type": "thinking", "thinking": self.words(), "signature": "sig"})
        return {"type": "redacted_thinking", "data": "x" * self.r.randint(1, 400)}

    def tool(self, i: int) -> dict[str, Any]:
        value: dict[str, Any] = {"name": f"tool_{i}", "description": self.words(),
                                 "input_schema": {"type": "object", "properties": {
                                     "q": {"type": "string"}}}}
        if self.chance(0.1):
            value = {"type": "web_search_20250305", "name": "web_search"}
        return self.mutate(self.marked(value), rate=0.03)

    def messages(self) -> list[Any]:
        r = self.r
        out: list[Any] = []
        for _ in range(r.randint(0, 3)):
            out.append({"role": "user",
                        "content": [self.user_block() for _ in range(r.randint(1, 3))]})
            out.append({"role": "assistant",
                        "content": [self.assistant_block() for _ in range(r.randint(1, 3))]})
        last = self.words() if self.chance(0.4) else [self.user_block()
                                                      for _ in range(r.randint(1, 3))]
        out.append({"role": "user", "content": last})
        if self.chance(0.03):
            out[r.randint(0, len(out) - 1)] = self.junk()
        return out

    def request(self) -> dict[str, Any]:
        """A messages.create request, valid most of the time, with one thing wrong now and then."""
        r = self.r
        request: dict[str, Any] = {"model": r.choice(MODELS), "max_tokens": 16,
                                   "messages": self.messages()}
        tools = [self.tool(i) for i in range(r.randint(0, 3))]
        if tools:
            request["tools"] = tools
            if self.chance(0.5):
                request["tool_choice"] = self.mutate(r.choice([
                    {"type": "auto"}, {"type": "any"}, {"type": "none"},
                    {"type": "tool", "name": tools[0].get("name", "tool_0")},
                    {"type": "auto", "disable_parallel_tool_use": True}]), rate=0.1)
        roll = r.random()
        if roll < 0.3:
            request["system"] = self.words()
        elif roll < 0.6:
            request["system"] = [self.text_block() for _ in range(r.randint(1, 3))]
        if self.chance(0.15):
            request["cache_control"] = {"type": "ephemeral", "ttl": r.choice(["5m", "1h"])}
        if self.chance(0.1):
            request["temperature"] = r.choice([0, 0.5, 1])
        if self.chance(0.05):
            request["stop_sequences"] = r.choice([None, ["\n"], "END", 5, [None], []])
        if tools and self.chance(0.01):  # deeper than any renderer walks (issue 21)
            request["tools"] = [*tools, {"name": "deep", "input_schema": self.nested(150)}]
        return self.mutate(request, rate=0.03)

    def nested(self, levels: int) -> dict[str, Any]:
        """An object schema ``levels`` properties deep."""
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(levels):
            schema = {"type": "object", "properties": {"a": schema}}
        return schema


seeds = st.integers(0, 2**63)
junk = seeds.map(lambda seed: Gen(seed).junk(3))
requests = seeds.map(lambda seed: Gen(seed).request())
messages = seeds.map(lambda seed: Gen(seed).messages())


#: Failures already known in modules this test's owner does not own, as (exception type, module
#: path, reason): tolerated by :func:`lenient` so the fuzz keeps looking for new ones, and each
#: pinned by an ``xfail(strict=True)`` test in ``test_fuzz_known.py`` that turns red once fixed.
KNOWN: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str, str]] = [
]


#: Our own rendered requests that ``validate`` refuses, known, as (message part, module, reason).
KNOWN_REJECTED: list[tuple[str, str, str]] = [
]


def _origin(error: BaseException) -> str:
    """The promptcache module (``promptcache/x.py``) of the innermost frame that raised ``error``."""
    tb = error.__traceback__
    origin = ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "/promptcache/" in name:
            origin = "promptcache/" + name.rsplit("/promptcache/", 1)[1]
        tb = tb.tb_next
    return origin


def known(error: BaseException) -> str | None:
    """The reason ``error`` is a known failure, or None."""
    origin = _origin(error)
    for kind, module, reason in KNOWN:
        if isinstance(error, kind) and origin == module:
            return reason
    return None


def lenient(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None when it raises a PromptCacheError (the allowed failure).

    Anything else propagates and fails the test, which is the property under test, unless it is
    in :data:`KNOWN`. ``PROMPTCACHE_FUZZ_SURVEY=FILE`` appends every other failure's signature to
    FILE instead of failing: one run lists every root cause at once.
    """
    try:
        return fn(*args, **kwargs)
    except PromptCacheError:
        return None
    except Exception as e:
        if known(e) is not None:
            return None
        survey = os.environ.get("PROMPTCACHE_FUZZ_SURVEY")
        if survey:
            with open(survey, "a", encoding="utf-8") as out:
                out.write(f"{type(e).__name__}\t{_origin(e)}\t{getattr(fn, '__qualname__', fn)}"
                          f"\t{str(e)[:80]!r}\t{_line(e)}\n")
            return None
        raise


def _line(error: BaseException) -> str:
    tb = error.__traceback__
    where = ""
    while tb is not None:
        if "/promptcache/" in tb.tb_frame.f_code.co_filename:
            where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


@contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """CacheWarnings recorded, not raised (pytest turns warnings into errors)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheWarning)
        yield caught


def as_json(value: Any) -> str:
    """The JSON text of a rendered request, the way a text is looked for in it."""
    return json.dumps(value, ensure_ascii=False, default=str)


def marker_words(payload: Any) -> list[str]:
    """The ``w<n>`` words in a block's text fields."""
    found: list[str] = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in ("text", "thinking", "data", "content", "description") and isinstance(value, str):
                found.extend(w for w in value.split() if w[:1] == "w" and w[1:].isdigit())
            elif key != "cache_control":
                found.extend(marker_words(value))
    elif isinstance(payload, list):
        for value in payload:
            found.extend(marker_words(value))
    return found
