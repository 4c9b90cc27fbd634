"""Fuzz every public entry point: only PromptCacheError escapes, no request breaks a provider rule,
nothing the user wrote disappears without a ``dropped``/warning/note entry naming it.

Fixed budget, derandomized (the same inputs on every run): the ``max_examples`` below and the 600
of ``test_fuzz_cli.py`` add up to 10,000 generated inputs (12,000 with ``test_property.py``);
about 55 s of CPU on one core (plus 400 chat sessions, each turn that passes sent to a loopback
Anthropic server). Hypothesis draws seeds and the structures are built from them in
plain Python (``tests/_fuzz.py``), which is what makes the budget fit. Failures in modules of
other owners are tolerated one (exception type, module) at a time through ``_fuzz.KNOWN``, and each
is pinned by an ``xfail(strict=True)`` test in ``test_fuzz_known.py`` that turns red once fixed.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptcache import (
    Document,
    Example,
    Prompt,
    PromptBuilder,
    PromptError,
    Reuse,
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
from promptcache.providers.anthropic.simulator import AnthropicCacheSimulator
from promptcache.providers.common import Rendered
from promptcache.providers.gemini.render import render_gemini_openai_compatible
from promptcache.providers.openai.simulator import OpenAICacheSimulator

from .._fuzz import (
    FUZZ,
    KNOWN_REJECTED,
    Gen,
    as_json,
    junk,
    lenient,
    marker_words,
    messages,
    recorded_warnings,
    requests,
    scaled,
    seeds,
)

BUDGET = scaled({"requests": 2_000, "raw": 2_500, "builder": 1_800, "usage": 2_500, "extend": 600,
                 "session": 400})


def _lost(prompt: Prompt, rendered: Any, records: list[str]) -> list[str]:
    """Words of ``prompt``'s blocks absent from ``rendered`` and not reported under the block's path."""
    text = as_json(rendered)
    lost = []
    for block in prompt.blocks:
        missing = [w for w in marker_words(block.payload) if w not in text]
        if missing and not any(block.path in r for r in records):
            lost.append(f"{block.path}: {missing}")
    return lost


def _check_anthropic(prompt: Prompt) -> None:
    with recorded_warnings() as caught:
        plan = lenient(optimize, prompt)
        if plan is None:
            return
        request = lenient(render_anthropic, prompt, plan)
    if request is None:
        return
    with recorded_warnings():
        try:
            validate(request, warn=False)  # raises where the API would answer 400
        except PromptError as e:
            if not any(part in str(e) for part, _, _ in KNOWN_REJECTED):
                raise
            return
    AnthropicCacheSimulator().positions(request)  # the simulator's 400 rules
    records = [*plan.warnings, *(str(w.message) for w in caught),
               *(f"{r.path} {r.reason}" for r in plan.rejected)]
    assert not _lost(prompt, request, records)
    automatic = prompt.params.get("cache_control")
    if isinstance(automatic, dict):  # a request-level marker is kept, TTL and all
        assert request.get("cache_control") == automatic, "the request-level cache_control vanished"
    placed = {p.path for p in plan.placements}
    for block in prompt.blocks:
        if block.user_ttl is not None:
            assert block.path in placed or any(block.path in r for r in records), (
                f"the marker on {block.path} vanished without a word")


def _records(rendered: Rendered) -> list[str]:
    return [*rendered.plan.dropped, *rendered.plan.notes]


TARGETS = ("chat:gpt-4.1", "chat:gpt-5.6", "responses:gpt-5.6", "responses:gpt-4o",
           "gemini:gemini-2.5-flash", "gemini-compatible:gemini-2.5-flash")


def _check_other(prompt: Prompt, target: str) -> None:
    """Render for one other API; the OpenAI simulator answers 400 where OpenAI would."""
    api, model = target.split(":")
    sim = OpenAICacheSimulator()
    render: Any = {"chat": render_openai_chat, "responses": render_openai_responses,
                   "gemini": render_gemini, "gemini-compatible": render_gemini_openai_compatible}[api]
    with recorded_warnings():
        rendered: Rendered | None = lenient(render, prompt, model=model)
    if rendered is None:
        return
    if api in ("chat", "responses"):
        (sim.chat if api == "chat" else sim.responses)(rendered.kwargs, now=0.0)
    elif api == "gemini":  # the SDK's own types accept every part and config field we send
        for content in rendered.kwargs["contents"]:
            types.Content.model_validate(content)
        types.GenerateContentConfig.model_validate(rendered.kwargs.get("config") or {})
    records = _records(rendered)
    assert not _lost(prompt, rendered.kwargs, records)
    if api == "gemini-compatible":
        return  # its plan speaks of the cache resource, not of markers
    sent = {p.path for p in rendered.plan.base.placements} if rendered.plan.base else set()
    for block in prompt.blocks:
        if block.user_ttl is not None:
            assert block.path in sent or any(block.path in r for r in records), (
                f"the marker on {block.path} vanished from the {target} request")


@settings(FUZZ, max_examples=BUDGET["requests"])
@pytest.mark.filterwarnings("ignore::promptcache.CacheWarning")
@given(request=requests, target=st.sampled_from(TARGETS))
def test_requests_render_for_every_provider_within_the_rules(request: dict[str, Any],
                                                             target: str) -> None:
    with recorded_warnings():
        prompt = lenient(prompt_from_request, request)
    if prompt is None:
        return
    _check_anthropic(prompt)
    _check_other(prompt, target)



@settings(FUZZ, max_examples=BUDGET["raw"])
@given(a=st.one_of(junk, requests), b=st.one_of(junk, requests),
       provider=st.sampled_from([None, None, "anthropic", "openai", "gemini"]))
@example(a={"model": "claude-sonnet-4-6", "max_tokens": 1, "messages": [
    {"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}, b={}, provider=None)
def test_raw_requests_through_validate_lint_and_diff(a: Any, b: Any, provider: Any) -> None:
    with recorded_warnings():
        lenient(validate, a)
        lenient(lint_request, a, provider=provider)
        lenient(diff_requests, a, b, provider=provider)



def _argument(g: Gen) -> Any:
    roll = g.r.random()
    if roll < 0.3:
        return g.junk()
    if roll < 0.6:
        return [g.r.choice([g.text_block, g.user_block, g.junk])() for _ in range(g.r.randint(0, 3))]
    return g.words()


def _builder_calls(seed: int) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """A few PromptBuilder calls, each with a near-valid or junk argument."""
    g = Gen(seed)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for _ in range(g.r.randint(1, 5)):
        name = g.r.choice(["add_tools", "add_system", "add_documents", "add_examples",
                           "add_messages", "add_user_turn", "conversation", "set_params"])
        if name == "add_tools":
            arg: Any = [g.tool(i) for i in range(3)] if g.chance(0.5) else _argument(g)
            calls.append((name, (arg,), {}))
        elif name == "add_documents":
            arg = ([Document(id=str(g.junk(0)), text=g.words(), title=g.r.choice([None, "t", "\""]))]
                   if g.chance(0.5) else _argument(g))
            calls.append((name, (arg,), {"reuse": g.r.choice(
                [Reuse(), Reuse(uses=5, interval=600), g.junk(0)])}))
        elif name == "add_examples":
            arg = ([Example(input=g.words(), output=g.words())] if g.chance(0.5)
                   else g.r.choice([["hi"], [("a", "b")], [{"input": "a", "output": "b"}],
                                    _argument(g)]))
            calls.append((name, (arg,), {}))
        elif name == "add_messages":
            calls.append((name, (g.messages() if g.chance(0.6) else _argument(g),), {}))
        elif name == "conversation":
            calls.append((name, (), {"volatility": g.r.choice(
                ["static", "daily", "session", "turn", g.junk(0)])}))
        elif name == "set_params":
            calls.append((name, (), {"max_tokens": g.r.choice([16, g.junk(0)]),
                                     "tool_choice": g.r.choice([None, {"type": "auto"}, g.junk()])}))
        else:
            calls.append((name, (_argument(g),), {}))
    return calls


@settings(FUZZ, max_examples=BUDGET["builder"])
@pytest.mark.filterwarnings("ignore::promptcache.CacheWarning")
@given(model=st.sampled_from(["claude-sonnet-4-6", "claude-haiku-4-5", ""]),
       calls=seeds.map(_builder_calls))
def test_builder_calls_raise_only_promptcache_errors(
        model: str, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
    builder = PromptBuilder(model) if model else PromptBuilder()
    for name, args, kwargs in calls:
        if lenient(getattr(builder, name), *args, **kwargs) is None:
            return
    prompt = lenient(builder.build)
    if prompt is not None:
        _check_anthropic(prompt)



USAGE_KEYS = ["input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens", "cache_creation", "ephemeral_5m_input_tokens",
              "prompt_tokens", "completion_tokens", "prompt_tokens_details", "cached_tokens",
              "input_tokens_details", "usage", "usage_metadata", "prompt_token_count",
              "cached_content_token_count", "candidates_token_count", "model", "type"]


def _usage_like(seed: int) -> Any:
    """A dict shaped like some provider's usage (or a stream of them), with odd values."""
    g = Gen(seed)

    def value(depth: int) -> Any:
        if depth > 0 and g.chance(0.3):
            return {g.r.choice(USAGE_KEYS): value(depth - 1) for _ in range(g.r.randint(1, 4))}
        return g.r.choice([0, 7, 10**12, -5, None, "", "12", 1.5, float("nan"), g.junk(0)])

    usage = {g.r.choice(USAGE_KEYS): value(2) for _ in range(g.r.randint(1, 5))}
    return [usage, value(2)] if g.chance(0.1) else usage


@settings(FUZZ, max_examples=BUDGET["usage"])
@given(response=st.one_of(seeds.map(_usage_like), junk),
       provider=st.sampled_from([None, "anthropic", "openai", "gemini", "bedrock"]),
       model=st.sampled_from([None, "claude-sonnet-4-6", "gpt-5.6", "gemini-2.5-flash", "x"]))
def test_parse_usage_raises_only_promptcache_errors(response: Any, provider: Any, model: Any) -> None:
    lenient(parse_usage, response, provider=provider, model=model)



@settings(FUZZ, max_examples=BUDGET["extend"])
@pytest.mark.filterwarnings("ignore::promptcache.CacheWarning")
@given(request=requests, more=st.one_of(messages, junk),
       bad_optimize=st.one_of(st.none(), junk))
def test_extend_and_optimize_raise_only_promptcache_errors(
        request: dict[str, Any], more: Any, bad_optimize: Any) -> None:
    with recorded_warnings():
        prompt = lenient(prompt_from_request, request)
        lenient(optimize, bad_optimize)
        lenient(optimize, PromptBuilder("claude-sonnet-4-6"))
    if prompt is None:
        return
    with recorded_warnings():
        extended = lenient(prompt.extend, more)
    if extended is not None:
        assert extended.blocks[:len(prompt.blocks)] == prompt.blocks
        _check_anthropic(extended)



def _session_case(seed: int) -> tuple[dict[str, Any], list[Any]]:
    """ChatSession arguments and user turns, each near-valid or junk (issue 21: ``tools=5``,
    ``system=5``, an assistant ``content=1.5``, ``send(None)`` raised bare TypeErrors)."""
    g = Gen(seed)
    kwargs: dict[str, Any] = {}
    if g.chance(0.5):
        kwargs["tools"] = [g.tool(i) for i in range(2)] if g.chance(0.6) else g.junk()
    if g.chance(0.5):
        kwargs["system"] = g.r.choice([g.words(), [g.text_block()], g.junk()])
    if g.chance(0.3):
        kwargs["documents"] = g.r.choice([[Document(id="d", text=g.words())], g.junk()])
    if g.chance(0.4):
        history = g.messages()[:-1] if g.chance(0.7) else g.junk()
        kwargs["history"] = history
    if g.chance(0.2):
        kwargs["params"] = g.r.choice([{"temperature": 0}, {"stop_sequences": g.junk(0)}, g.junk()])
    turns = [g.r.choice([g.words(), [g.user_block()], g.junk(), None, 5])
             for _ in range(g.r.randint(1, 2))]
    return kwargs, turns


@pytest.fixture(scope="module")
def anthropic_client() -> Any:
    import anthropic

    from promptcache.testing import AnthropicServer

    with AnthropicServer() as server, anthropic.Anthropic(
            base_url=server.url, api_key="t", max_retries=0) as client:
        yield client


@settings(FUZZ, max_examples=BUDGET["session"])
@pytest.mark.filterwarnings("ignore::promptcache.CacheWarning")
@given(case=seeds.map(_session_case))
def test_chat_session_arguments_and_turns_raise_only_promptcache_errors(
        anthropic_client: Any, case: tuple[dict[str, Any], list[Any]]) -> None:
    from promptcache import ChatSession
    from promptcache.errors import ProviderError

    kwargs, turns = case
    with recorded_warnings():
        chat = lenient(ChatSession, anthropic_client, model="claude-sonnet-4-6", **kwargs)
        if chat is None:
            return

        def send(content: Any) -> Any:
            try:
                return chat.send(content)
            except ProviderError as e:  # the loopback answered 400: we sent what the API rejects
                raise AssertionError(f"the session sent a request the API rejects: {e}") from e

        for content in turns:
            lenient(send, content)
