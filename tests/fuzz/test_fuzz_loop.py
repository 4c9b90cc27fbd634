"""Ten thousand generated calls of the public API, in a plain loop: only PromptCacheError escapes.

The hypothesis fuzz (``test_fuzz_api.py``) checks deeper properties per input and costs about
5 ms an input in hypothesis's machinery; this loop spends its budget on inputs instead. Seeds
``0..N`` feed ``tests/_fuzz.Gen`` (the same near-valid requests, junk values and blocks) plus the
odd shapes below (deep schemas, ``None`` parameters, mixed-type parameter keys, numbers where a
list or a text belongs), and every case goes through one public entry point: reading a request,
planning, rendering for each provider, ``validate``, ``lint_request``, ``diff_requests``,
``parse_usage`` and the PromptBuilder. Anything but a ``PromptCacheError`` fails the test with the
seed that reproduces it (``case(seed)``). ``PROMPTCACHE_FUZZ_SCALE`` scales the count as for the
other fuzz tests; CI runs 10,000 (about 20 s on one core). Root causes in other owners' modules
are tolerated one (type, module) at a time through :data:`PENDING`, as ``_fuzz.KNOWN`` does.
"""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from promptcache import (
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
from promptcache.gemini import render_gemini
from promptcache.openai import render_openai_chat, render_openai_responses

from .._fuzz import ODD, Gen, _origin, known

CASES = max(1, int(10_000 * float(os.environ.get("PROMPTCACHE_FUZZ_SCALE", "1"))))

#: Root causes this loop found in modules other engineers own, as (exception type, module of the
#: innermost promptcache frame, what and who): tolerated one (type, module) at a time so the loop
#: keeps looking for others. Each entry goes when its fix lands.
PENDING: list[tuple[type[BaseException], str, str]] = []


def _pending(error: BaseException) -> bool:
    origin = _origin(error)
    return any(isinstance(error, kind) and origin == module for kind, module, _ in PENDING)


def _deep_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def _odd_request(g: Gen) -> dict[str, Any]:
    """A request with one of the shapes that have raised bare exceptions before."""
    r = g.r
    request = g.request()
    roll = r.randrange(8)
    if roll == 0:
        request["tools"] = [{"name": "deep", "description": "d",
                             "input_schema": _deep_schema(r.choice([50, 300, 1200]))}]
    elif roll == 1:
        request[r.choice(["stop_sequences", "temperature", "top_p", "metadata", "tools",
                          "system", "tool_choice"])] = r.choice([None, 5, 1.5, "x", [], {}])
    elif roll == 2:
        request["messages"] = [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": r.choice(ODD)}]}]
    elif roll == 3:
        request["messages"] = [{"role": "user", "content": [r.choice(
            [{"type": "text"}, {"type": "text", "text": r.choice(ODD)}, {"type": r.choice(ODD)}])]}]
    elif roll == 4:
        request["metadata"] = {None: 1, 2: "x", "k": None}
    elif roll == 5:
        request["messages"] = r.choice([[], None, 5, "hi", [None], [{"role": "assistant"}]])
    elif roll == 6:
        request["messages"] = [{"role": "assistant", "content": r.choice(ODD)}]
    return request


def case(seed: int) -> None:
    """The one call ``seed`` makes; raises what the API raised."""
    g = Gen(seed)
    r = g.r
    kind = seed % 10
    if kind <= 3:
        request = _odd_request(g) if g.chance(0.3) else g.request()
        prompt = prompt_from_request(request)
        target = kind
        if target == 0:
            render_anthropic(prompt, optimize(prompt))
        elif target == 1:
            render_openai_chat(prompt, model=r.choice(["gpt-4.1", "gpt-5.6"]))
        elif target == 2:
            render_openai_responses(prompt, model="gpt-5.6")
        else:
            render_gemini(prompt, model="gemini-2.5-flash")
    elif kind == 4:
        validate(g.junk(3) if g.chance(0.3) else _odd_request(g), warn=False)
    elif kind == 5:
        lint_request(_odd_request(g) if g.chance(0.7) else g.junk(3),
                     provider=r.choice([None, "anthropic", "openai", "gemini"]))
    elif kind == 6:
        a = _odd_request(g)
        b = _odd_request(g) if g.chance(0.5) else g.junk(2)
        diff_requests(a, b, provider=r.choice([None, "anthropic", "openai", "gemini"]))
    elif kind == 7:
        usage = {r.choice(["input_tokens", "output_tokens", "cache_read_input_tokens",
                           "prompt_tokens", "usage", "usage_metadata", "cached_tokens"]):
                 r.choice([0, 7, -5, None, "12", 1.5, float("nan"), g.junk(1)])
                 for _ in range(r.randint(1, 4))}
        parse_usage(usage, provider=r.choice([None, "anthropic", "openai", "gemini"]))
    elif kind == 8:
        builder = PromptBuilder(r.choice(["claude-sonnet-4-6", "claude-haiku-4-5"]))
        for _ in range(r.randint(1, 4)):
            name = r.choice(["add_tools", "add_system", "add_messages", "add_user_turn",
                             "set_params"])
            if name == "set_params":
                builder.set_params(**{r.choice(["max_tokens", "stop_sequences", "temperature",
                                                "tool_choice"]): r.choice([None, 5, g.junk(1)])})
            elif name == "add_tools":
                builder.add_tools(r.choice([[g.tool(0)], 5, None, g.junk(1)]))
            elif name == "add_messages":
                builder.add_messages(r.choice([g.messages(), 5, None, [None]]))
            else:
                getattr(builder, name)(r.choice([g.words(), 5, None, [g.text_block()]]))
        render_anthropic(builder.build())
    else:
        prompt = prompt_from_request(g.request())
        more = g.messages() if g.chance(0.7) else g.junk(2)
        extended = prompt.extend(more)
        render_anthropic(extended, optimize(extended))


def _attempt(fn: Callable[[int], None], seed: int) -> str | None:
    """None, or the failure of ``fn(seed)`` that is not a PromptCacheError."""
    try:
        fn(seed)
    except PromptCacheError:
        return None
    except Exception as e:  # the property under test: nothing else escapes
        if known(e) is not None or _pending(e):
            return None
        where = traceback.extract_tb(e.__traceback__)[-1]
        return f"seed {seed}: {type(e).__name__}: {str(e)[:120]} ({where.filename}:{where.lineno})"
    return None


def test_ten_thousand_calls_raise_only_promptcache_errors() -> None:
    failures: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CacheWarnings are allowed; what is checked is raising
        for seed in range(CASES):
            failure = _attempt(case, seed)
            if failure is not None:
                kind = failure.split(": ", 2)[1] + failure.rsplit("(", 1)[1]
                failures.setdefault(kind, failure)  # one example per root cause
    assert not failures, "\n".join(sorted(failures.values()))
