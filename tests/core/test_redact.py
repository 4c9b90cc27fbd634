"""Reprs never show header values or credentials (issue 21 item 7); the requests still carry them."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import warnings
from typing import Any

import anthropic
import pytest

import promptcache
from promptcache import PromptBuilder, wrap
from promptcache.diagnostics.lint_trace import TraceEntry
from promptcache.gemini import render_gemini, render_gemini_openai_compatible
from promptcache.openai import render_openai_chat, render_openai_responses
from promptcache.redact import REDACTED, redacted, redacted_repr
from promptcache.testing import AnthropicServer

SECRETS = {"x-api-key": "sk-ant-SECRET-1", "Authorization": "Bearer SECRET-2",
           "x-gateway": "SECRET-3"}


def assert_hidden(text: str) -> None:
    assert "SECRET" not in text, text
    assert REDACTED in text


def secret_prompt() -> promptcache.Prompt:
    return (PromptBuilder("claude-sonnet-4-6").add_system("Be terse.").add_user_turn("hi")
            .set_params(max_tokens=8, extra_headers=SECRETS,
                        extra_query={"key": "SECRET-4", "beta": "true"}).build())


def test_a_prompt_repr_hides_header_values_and_keeps_the_rest() -> None:
    text = repr(secret_prompt())
    assert_hidden(text)
    assert "'x-gateway': '<redacted>'" in text  # every header, not only secret-looking names
    assert "'beta': 'true'" in text and "'max_tokens': 8" in text  # counts are not credentials


@pytest.mark.parametrize("render", [
    lambda p: render_openai_chat(p, model="gpt-4o"),
    lambda p: render_openai_responses(p, model="gpt-4o"),
    lambda p: render_gemini(p, model="gemini-2.5-flash"),
    lambda p: render_gemini_openai_compatible(p, model="gemini-2.5-flash"),
], ids=["openai-chat", "openai-responses", "gemini", "gemini-openai-compatible"])
def test_a_rendered_request_repr_hides_them(render: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:  # Gemini does not send extra_query
        warnings.simplefilter("always")
        rendered = render(secret_prompt())
    assert "SECRET" not in repr(rendered)
    assert all("SECRET" not in str(w.message) for w in caught)  # a dropped entry names, not shows


def test_the_last_wrapped_call_and_the_recorded_request_hide_them_while_the_header_is_sent() -> None:
    with AnthropicServer() as server, anthropic.Anthropic(
            base_url=server.url, api_key="sk-ant-SECRET-0", max_retries=0) as raw:
        client = wrap(raw)
        client.messages.create(model="claude-sonnet-4-6", max_tokens=8, extra_headers=SECRETS,
                               messages=[{"role": "user", "content": "hi"}])
        assert_hidden(repr(client.promptcache.last))
        assert "SECRET" not in repr(client.promptcache)
        recorded = server.requests[-1]
        assert_hidden(repr(recorded))
        assert recorded.headers["x-api-key"] == "sk-ant-SECRET-1"  # only the repr changes


def test_a_trace_entry_hides_them() -> None:
    entry = TraceEntry(t=0.0, request={"model": "m", "extra_headers": SECRETS,
                                       "api_key": "SECRET-5", "prompt_cache_key": "route-1"})
    text = repr(entry)
    assert_hidden(text)
    assert "route-1" in text


def test_credentials_anywhere_are_hidden_but_counts_and_flags_stay() -> None:
    shown = redacted({"auth_token": "SECRET", "nested": [{"aws_secret_key": "SECRET"}],
                      "budget_tokens": 1024, "max_output_tokens": 5, "is_auth": True,
                      "api_key": None})
    assert shown == {"auth_token": REDACTED, "nested": [{"aws_secret_key": REDACTED}],
                     "budget_tokens": 1024, "max_output_tokens": 5, "is_auth": True,
                     "api_key": None}


_CARRIERS = ("kwargs", "params", "request", "headers", "extra_headers", "api_key")
#: Dataclasses with such a field that carries no secret, and why.
_EXEMPT = {
    "promptcache.diagnostics.lint_rules.LintFinding",  # ``request`` is the index of a trace entry
    "promptcache.providers.anthropic.scripted._Failure",  # reply headers a test scripts
    "promptcache.providers._scripted.Failure",  # the same, shared by the scripted servers
}


def test_every_dataclass_that_carries_request_arguments_redacts_its_repr() -> None:
    """A guard for new code: a dataclass with a field named like request arguments must use
    ``redacted_repr`` (or hide the field with ``repr=False``)."""
    missing = []
    for info in pkgutil.walk_packages(promptcache.__path__, "promptcache."):
        if info.name.endswith("__main__"):
            continue  # runs the CLI
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and value.__module__ == module.__name__
                    and dataclasses.is_dataclass(value)):
                shown = {f.name for f in dataclasses.fields(value) if f.repr}
                name = f"{module.__name__}.{value.__qualname__}"
                if shown & set(_CARRIERS) and value.__repr__ is not redacted_repr and name not in _EXEMPT:
                    missing.append(name)
    assert missing == []
