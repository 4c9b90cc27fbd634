"""Observability: log records, the once-per-layer CacheWarning, the kill switches, and the
providers' own miss reasons, through the real SDK clients against the loopback servers."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from promptcache import CacheState, CacheWarning
from promptcache.cache import MemoryBackend
from promptcache.cache.base import CacheUnavailableWarning
from promptcache.clock import ManualClock
from promptcache.diagnostics import ProviderReason, provider_reason
from promptcache.dropin import UnplannedRequestWarning, handle_of, wrap
from promptcache.state import StoreError
from promptcache.testing import AnthropicServer, OpenAIServer

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(1_500))
TOOLS = [{"name": "lookup", "description": "Find an order. " + "detail " * 1_200,
          "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}}}]


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_switch_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each kill switch logs once per process: start every test as a new process would."""
    import promptcache.log

    monkeypatch.setattr(promptcache.log, "_ONCE", set())
    monkeypatch.delenv("PROMPTCACHE_DISABLE", raising=False)
    monkeypatch.delenv("PROMPTCACHE_DISABLE_RESPONSE_CACHE", raising=False)


def claude(server: AnthropicServer, **options: Any) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
    return wrap(client, state=CacheState(clock=ManualClock()), **options)


def ask(client: Any, system: str = SYSTEM, question: str = "Where is my order?") -> Any:
    return client.messages.create(model=MODEL, max_tokens=64, system=system,
                                  messages=[{"role": "user", "content": question}])


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "promptcache" and r.levelno == level]


# -- log records ------------------------------------------------------------------------------


def test_each_planned_request_logs_one_debug_record_with_its_breakpoints(
        server: AnthropicServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="promptcache")
    client = claude(server)
    ask(client)
    ask(client, question="And my refund?")
    planned = [r for r in records(caplog, logging.DEBUG) if r.getMessage().startswith("planned")]
    assert len(planned) == 2
    fields = planned[0].promptcache_plan  # type: ignore[attr-defined]
    assert fields["breakpoints"][0] == "system[0]" and fields["ttls"][0] in ("5m", "1h")
    assert fields["expected_write"] > 0 and "system[0]@" in planned[0].getMessage()
    assert planned[1].promptcache_plan["expected_read"] > 0  # type: ignore[attr-defined]


def test_a_volatile_system_prompt_is_logged_at_info_and_warned_once_under_wrap(
        server: AnthropicServer, caplog: pytest.LogCaptureFixture) -> None:
    """The issue's bot: a timestamp in the system prompt. The decision to stop caching it used
    to show only in ``handle_of(client).last.plan.warnings``."""
    caplog.set_level(logging.INFO, logger="promptcache")
    clock = ManualClock()
    client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState(clock=clock))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for minute in range(8):  # one call a minute, as the bot runs
            ask(client, system=f"{SYSTEM} The time is 12:{minute:02d}.")
            clock.advance(60)
    volatile = [w for w in caught if isinstance(w.message, CacheWarning)
                and w.message.rule == "volatile"]
    assert len(volatile) == 1
    assert "Layer 'system'" in str(volatile[0].message)
    assert volatile[0].message.path == "system[0]"  # type: ignore[union-attr]
    learned = [r for r in records(caplog, logging.INFO)
               if getattr(r, "promptcache_change", None) == "volatile"]
    assert len(learned) == 1 and learned[0].promptcache_layer == "system"  # type: ignore[attr-defined]
    assert handle_of(client).last is not None and not handle_of(client).last.plan.placements  # type: ignore[union-attr]


def test_a_ttl_change_is_logged_at_info(server: AnthropicServer,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """Tools sent every 20 minutes: the first plan uses the 5m hint, then the observed pace
    (longer than 5 minutes) moves the tools to 1h, which is logged once."""
    caplog.set_level(logging.INFO, logger="promptcache")
    clock = ManualClock()
    client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState(clock=clock))
    for i in range(4):
        client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, system=SYSTEM,
                               messages=[{"role": "user", "content": f"question {i}"}])
        clock.advance(20 * 60)
    changes = [r for r in records(caplog, logging.INFO)
               if getattr(r, "promptcache_change", None) == "ttl"]
    assert changes, "no TTL change was logged"
    assert all("->" in r.getMessage() for r in changes)
    assert any("-> 1h" in r.getMessage() for r in changes)


def test_an_unplanned_request_logs_a_warning_naming_the_cause(
        server: AnthropicServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="promptcache")
    client = claude(server)
    odd = {"role": "user", "content": [{"type": "hologram", "data": "x"}]}
    with pytest.warns(UnplannedRequestWarning, match="hologram"):
        client.messages.create(model=MODEL, max_tokens=16, messages=[odd])
    warned = records(caplog, logging.WARNING)
    assert [getattr(r, "promptcache_cause", None) for r in warned] == ["unplanned"]
    assert "sent it exactly as written" in warned[0].getMessage()


def test_a_failing_response_cache_logs_a_warning(server: AnthropicServer,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemoryBackend):
        def get(self, key: str) -> bytes | None:
            raise OSError("disk gone")

    caplog.set_level(logging.WARNING, logger="promptcache")
    client = claude(server, response_cache=Broken())
    with pytest.warns(CacheUnavailableWarning, match="disk gone"):
        ask(client)
    causes = [getattr(r, "promptcache_cause", None) for r in records(caplog, logging.WARNING)]
    assert causes == ["response-cache-unavailable"]


def test_a_shared_state_outage_logs_a_warning(server: AnthropicServer,
                                              caplog: pytest.LogCaptureFixture) -> None:
    class Down:
        def fetch(self, *args: object) -> None:
            raise StoreError("connection refused")

        def push(self, *args: object) -> None:
            raise StoreError("connection refused")

    caplog.set_level(logging.WARNING, logger="promptcache")
    client = wrap(anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0),
                  state=CacheState(clock=ManualClock(), shared=Down(), retry_after=3600))
    with pytest.warns(CacheWarning, match="shared cache state is unavailable"):
        reply = ask(client)
    assert reply.content
    warned = records(caplog, logging.WARNING)
    assert [getattr(r, "promptcache_cause", None) for r in warned] == ["shared-state-unavailable"]
    assert "connection refused" in warned[0].getMessage()


def test_the_library_installs_no_handler() -> None:
    code = ("import logging, promptcache, promptcache.dropin; "
            "assert logging.getLogger('promptcache').handlers == []")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the kill switches ---------------------------------------------------------------------


def test_promptcache_disable_sends_every_request_as_written_and_logs_once(
        server: AnthropicServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="promptcache")
    client = claude(server)
    ask(client)
    assert "cache_control" in server.requests[-1].json()["system"][0]
    monkeypatch.setenv("PROMPTCACHE_DISABLE", "1")
    ask(client)
    ask(client)
    for request in server.requests[-2:]:
        assert request.json()["system"] == SYSTEM  # as written: a string, no marker
    handle = handle_of(client)
    assert handle.last is not None and not handle.last.planned
    assert "PROMPTCACHE_DISABLE" in handle.last.reason
    assert handle.ledger.totals().calls == 3  # usage is still counted
    logged = [r for r in records(caplog, logging.WARNING)
              if getattr(r, "promptcache_cause", None) == "disabled"]
    assert len(logged) == 1
    monkeypatch.delenv("PROMPTCACHE_DISABLE")
    ask(client)
    assert "cache_control" in server.requests[-1].json()["system"][0]


def test_promptcache_disable_response_cache_bypasses_the_response_cache(
        server: AnthropicServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="promptcache")
    client = claude(server, response_cache=MemoryBackend())
    ask(client)
    ask(client)
    assert len(server.requests) == 1  # the second was a response-cache hit
    monkeypatch.setenv("PROMPTCACHE_DISABLE_RESPONSE_CACHE", "true")
    ask(client)
    ask(client)
    assert len(server.requests) == 3
    assert "cache_control" in server.requests[-1].json()["system"][0]  # planning still on
    logged = [r for r in records(caplog, logging.WARNING)
              if getattr(r, "promptcache_cause", None) == "response-cache-disabled"]
    assert len(logged) == 1


# -- the providers' own miss reasons ---------------------------------------------------------


def test_anthropic_diagnostics_are_asked_for_and_parsed_beside_the_block_diff(
        server: AnthropicServer) -> None:
    client = claude(server, diagnostics=True)
    first = ask(client)
    assert server.requests[-1].json()["diagnostics"] == {"previous_message_id": None}
    ask(client, system=SYSTEM + " Be brief.")
    assert server.requests[-1].json()["diagnostics"] == {"previous_message_id": first.id}
    miss = handle_of(client).observer.last_miss
    assert miss is not None
    assert miss.provider == ProviderReason(provider="anthropic", outcome="miss",
                                           reason="system_changed",
                                           missed_tokens=miss.provider.missed_tokens)
    assert miss.provider.missed_tokens and miss.provider.missed_tokens > 3_000
    assert miss.diff is not None and miss.diff.change.path_b == "system[0]"
    assert (miss.changed_path, miss.changed_layer) == ("system[0]", "system")
    assert miss.reason == "system_changed"
    assert handle_of(client).ledger.records[-1].miss_reason == "system_changed"
    assert "system_changed" in str(miss) and "system" in str(miss)


def test_without_diagnostics_nothing_is_added_to_the_request(server: AnthropicServer) -> None:
    client = claude(server)
    ask(client)
    assert "diagnostics" not in server.requests[-1].json()


def test_a_callers_own_diagnostics_argument_is_kept(server: AnthropicServer) -> None:
    client = claude(server, diagnostics=True)
    first = ask(client)
    client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=[
        {"role": "user", "content": "Where is my order?"}],
        diagnostics={"previous_message_id": first.id})
    assert server.requests[-1].json()["diagnostics"] == {"previous_message_id": first.id}


def openai_client(server: OpenAIServer, **options: Any) -> openai.OpenAI:
    return wrap(openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0),
                state=CacheState(clock=ManualClock()), **options)


def test_openai_prompt_cache_diagnostics_are_asked_for_and_parsed() -> None:
    with OpenAIServer(clock=ManualClock()) as server:
        client = openai_client(server, diagnostics=True)
        first = client.responses.create(model="gpt-5.6", input=[{"role": "user", "content": SYSTEM}])
        assert "prompt_cache_options" not in server.requests[-1].json() or \
            "comparison_response_id" not in server.requests[-1].json()["prompt_cache_options"]
        second = client.responses.create(
            model="gpt-5.6", input=[{"role": "user", "content": "Today: " + SYSTEM}])
        sent = server.requests[-1].json()["prompt_cache_options"]
        assert sent["comparison_response_id"] == first.id
    reason = provider_reason(second)
    assert reason is not None and reason.provider == "openai"
    assert (reason.outcome, reason.reason) == ("miss", "input_changed")
    assert reason.reusable_tokens and reason.missed_tokens and reason.missed_tokens > 3_000
    miss = handle_of(client).observer.last_miss
    assert miss is not None and miss.provider == reason
    assert miss.diff is not None and not miss.diff.hit


def test_openai_diagnostics_name_a_tools_change_and_a_hit() -> None:
    tools = [{"type": "function", "name": "lookup", "description": "Find an order.",
              "parameters": {"type": "object", "properties": {}}}]
    inp = [{"role": "user", "content": SYSTEM}]
    with OpenAIServer(clock=ManualClock()) as server:
        client = openai_client(server, diagnostics=True)
        client.responses.create(model="gpt-5.6", input=inp)
        same = client.responses.create(model="gpt-5.6", input=inp)
        # Unwrapped: under wrap() a new tool list also gets a new prompt_cache_key, which the
        # provider reports first (prompt_cache_key_changed).
        raw = openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)
        before = raw.responses.create(model="gpt-5.6", input=inp)
        changed = raw.responses.create(model="gpt-5.6", input=inp, tools=tools,  # type: ignore[arg-type]
                                       prompt_cache_options={"comparison_response_id": before.id})
    assert provider_reason(same) == ProviderReason(provider="openai", outcome="hit")
    reason = provider_reason(changed)
    assert reason is not None and reason.reason == "tools_changed"
    assert reason.missed_tokens == changed.usage.input_tokens  # tools come first: all of it


def test_openai_diagnostics_are_not_asked_of_models_that_reject_them() -> None:
    """GPT-4o rejects ``prompt_cache_options`` with a 400: the opt-in leaves it out."""
    with OpenAIServer(clock=ManualClock()) as server:
        client = openai_client(server, diagnostics=True)
        for _ in range(2):
            client.responses.create(model="gpt-4o", input=[{"role": "user", "content": SYSTEM}])
        assert all("prompt_cache_options" not in r.json() for r in server.requests)
        assert handle_of(client).unplanned == 0


def test_an_unknown_comparison_id_is_reported_as_not_found() -> None:
    with OpenAIServer(clock=ManualClock()) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)
        response = client.responses.create(
            model="gpt-5.6", input=[{"role": "user", "content": SYSTEM}],
            prompt_cache_options={"comparison_response_id": "resp_never"})
    assert provider_reason(response) == ProviderReason(provider="openai", outcome="not_found",
                                                       reason="comparison_response_not_found")


def test_the_block_diff_reads_a_history_that_holds_sdk_objects(server: AnthropicServer) -> None:
    """The quick start sends ``message.content`` (SDK objects) back: the diff still reads it."""
    client = claude(server, diagnostics=True)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Where is my order?"}]
    reply = client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=messages)
    messages += [{"role": "assistant", "content": reply.content},
                 {"role": "user", "content": "And my refund?"}]
    client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM + " v2", messages=messages)
    miss = handle_of(client).observer.last_miss
    assert miss is not None and miss.diff is not None, miss
    assert miss.diff.change.path_b == "system[0]" == miss.changed_path


def test_a_read_below_the_plan_is_reported_without_the_providers_reason(
        server: AnthropicServer) -> None:
    """The server's entry expired (its clock ran on; the planner's did not): the plan expected a
    read, the call read nothing, and nothing before the question changed."""
    client = claude(server)
    ask(client)
    server.clock.advance(600)  # type: ignore[attr-defined]
    ask(client)
    miss = handle_of(client).observer.last_miss
    assert miss is not None and miss.provider is None
    assert miss.expected_read and miss.expected_read > 3_000 and miss.actual_read == 0
    assert miss.changed_path is None and miss.reason == "read-below-expected"
    assert "nothing before the new content changed" in str(miss)
    assert handle_of(client).ledger.records[-1].miss_reason == "read-below-expected"
