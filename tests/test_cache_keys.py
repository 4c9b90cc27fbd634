"""The response-cache key: equivalent requests match, different ones (or tenants) never do."""

from __future__ import annotations

import itertools
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from promptcache.cache import keys
from promptcache.cache.keys import UnkeyableRequest, client_identity, request_key, sampling_temperature

BASE: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "system": [{"type": "text", "text": "You are terse. " * 100, "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "Capital of France?"}],
}


def key(params: dict[str, Any], namespace: str = "default", identity: str = "") -> str:
    return request_key("anthropic.messages.create", params, namespace=namespace, identity=identity)


def canonical(params: dict[str, Any]) -> str:
    """The text that is hashed (what a leak of the key's input would reveal)."""
    return keys._dumps(keys._shrink(keys._scrub(params)))


def assert_all_distinct(variants: list[Any], make: Any) -> None:
    made = [make(v) for v in variants]
    for (i, a), (j, b) in itertools.combinations(enumerate(made), 2):
        assert a != b, f"variants {i} and {j} share a key: {variants[i]!r} / {variants[j]!r}"


def test_dict_order_does_not_change_the_key() -> None:
    reordered = {k: BASE[k] for k in reversed(list(BASE))}
    reordered["system"] = [dict(reversed(list(BASE["system"][0].items())))]
    assert key(reordered) == key(BASE)


def test_header_order_and_case_do_not_change_the_key() -> None:
    a = BASE | {"extra_headers": {"anthropic-beta": "b1", "x-api-key": "sk-1"}}
    b = BASE | {"extra_headers": {"X-Api-Key": "sk-1", "Anthropic-Beta": "b1"}}
    assert key(a) == key(b)


def test_every_parameter_changes_the_key() -> None:
    variants = [
        BASE,
        BASE | {"model": "claude-opus-4-5"},
        BASE | {"max_tokens": 257},
        BASE | {"max_tokens": 256.0},
        BASE | {"messages": [{"role": "user", "content": "Capital of Spain?"}]},
        BASE | {"system": [{"type": "text", "text": "You are terse. " * 101}]},
        BASE | {"stop_sequences": ["\n"]},
        BASE | {"metadata": {"user_id": "u1"}},
        BASE | {"extra_body": {"temperature": 0}},
        BASE | {"extra_body": {"temperature": 0.0}},
        BASE | {"stream": True},
        BASE | {"extra_headers": {"anthropic-beta": "extended-cache-ttl-2025-04-11"}},
        BASE | {"extra_headers": {"x-max-tokens": "5"}},
        BASE | {"extra_headers": {"x-max-tokens": "500"}},
        BASE | {"extra_headers": {"x-api-key": "sk-tenant-a"}},
        BASE | {"extra_headers": {"x-api-key": "sk-tenant-b"}},
        BASE | {"extra_headers": {"authorization": "Bearer a"}},
        BASE | {"extra_query": {"key": "a"}},
        BASE | {"extra_query": {"key": "b"}},
        BASE | {"extra_query": {"beta": "true"}},
    ]
    assert_all_distinct(variants, key)


def test_list_order_changes_the_key() -> None:
    two = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert key(BASE | {"messages": two}) != key(BASE | {"messages": two[::-1]})


def test_namespace_endpoint_and_identity_are_part_of_the_key() -> None:
    assert key(BASE, "tenant-a") != key(BASE, "tenant-b")
    assert request_key("openai.responses.create", BASE, namespace="default") != key(BASE)
    assert key(BASE, identity="a") != key(BASE, identity="b")


def test_transport_options_do_not_change_the_key() -> None:
    assert key(BASE | {"timeout": 3.0, "max_retries": 5}) == key(BASE)


def test_secret_values_are_keyed_by_digest_and_never_appear_in_the_hashed_text() -> None:
    secret = "sk-ant-api03-NEVER-STORE"
    params = BASE | {
        "extra_headers": {"x-api-key": secret, "Authorization": f"Bearer {secret}", "x-max-tokens": "7"},
        "extra_query": {"key": secret},
    }
    text = canonical(params)
    assert secret not in text
    assert "x-api-key" in text and "authorization" in text and '"key"' in text
    assert '"x-max-tokens":' in text  # a secret-looking name stays; its value is keyed by digest
    assert key(params) == key(dict(params))


def test_genai_http_options_are_part_of_the_key() -> None:
    def config(**options: Any) -> dict[str, Any]:
        return {
            "model": "gemini-2.5-flash",
            "contents": "Hi",
            "config": types.GenerateContentConfig(
                temperature=0, http_options=types.HttpOptions(**options) if options else None
            ),
        }

    variants = [
        config(),
        config(extra_body={"generationConfig": {"maxOutputTokens": 5}}),
        config(extra_body={"generationConfig": {"maxOutputTokens": 500}}),
        config(api_version="v1"),
        config(api_version="v1alpha"),
        config(base_url="https://a.example/"),
        config(base_url="https://b.example/"),
        config(headers={"x-goog-api-key": "AIza-a"}),
        config(headers={"x-goog-api-key": "AIza-b"}),
        config(headers={"x-server-timeout": "5"}),
    ]
    assert_all_distinct(variants, lambda p: request_key("genai", p, namespace="d"))
    assert "AIza-a" not in canonical(variants[7])
    dict_form = {
        "model": "gemini-2.5-flash",
        "contents": "Hi",
        "config": {"temperature": 0, "http_options": {"api_version": "v1", "timeout": 3000}},
    }
    same = dict_form | {"config": {"http_options": {"api_version": "v1"}, "temperature": 0}}
    assert request_key("genai", dict_form, namespace="d") == request_key("genai", same, namespace="d")


def test_client_settings_decide_the_tenant() -> None:
    def claude(**kw: Any) -> anthropic.Anthropic:
        return anthropic.Anthropic(**({"api_key": "sk-a", "base_url": "http://127.0.0.1:1"} | kw))

    def gpt(**kw: Any) -> openai.OpenAI:
        return openai.OpenAI(**({"api_key": "sk-a", "base_url": "http://127.0.0.1:1/v1"} | kw))

    def gemini(**options: Any) -> genai.Client:
        api_key = options.pop("api_key", "AIza-a")
        return genai.Client(api_key=api_key, http_options=types.HttpOptions(**options))

    clients = [
        claude(),
        claude(api_key="sk-b"),
        claude(base_url="http://127.0.0.1:2"),
        claude(default_headers={"anthropic-beta": "extended-cache-ttl-2025-04-11"}),
        claude(default_headers={"x-max-tokens": "5"}),
        claude(default_query={"key": "q"}),
        claude(api_key=None, auth_token="tok-a"),
        claude(api_key=None, auth_token="tok-b"),
        gpt(),
        gpt(api_key="sk-b"),
        gpt(organization="org-a"),
        gpt(organization="org-b"),
        gpt(project="proj-a"),
        gpt(base_url="http://127.0.0.1:2/v1"),
        gemini(),
        gemini(api_key="AIza-b"),
        gemini(base_url="http://127.0.0.1:3/"),
        gemini(api_version="v1alpha"),
        gemini(headers={"x-tenant": "a"}),
        gemini(extra_body={"labels": {"a": "b"}}),
    ]
    try:
        assert_all_distinct(clients, client_identity)
        assert client_identity(claude()) == client_identity(clients[0])
        assert client_identity(anthropic.AsyncAnthropic(api_key="sk-a", base_url="http://127.0.0.1:1")) == (
            client_identity(clients[0])
        )
    finally:
        for c in clients:
            c.close()


def test_stream_false_equals_absent() -> None:
    assert key(BASE | {"stream": False}) == key(BASE)


def test_unknown_parameter_types_are_refused() -> None:
    with pytest.raises(UnkeyableRequest):
        key(BASE | {"weird": object()})


def test_deep_nesting_is_refused_not_crashed() -> None:
    deep: Any = "x"
    for _ in range(5_000):
        deep = {"a": deep}
    with pytest.raises(UnkeyableRequest):
        key(BASE | {"metadata": deep})


def test_lone_surrogates_are_keyed() -> None:
    assert key(BASE | {"metadata": {"user_id": "\ud800"}}) != key(BASE | {"metadata": {"user_id": "\udc00"}})


def test_temperature_is_found_wherever_the_sdk_puts_it() -> None:
    assert sampling_temperature(BASE) is None
    assert sampling_temperature(BASE | {"temperature": 0.7}) == 0.7
    assert sampling_temperature(BASE | {"extra_body": {"temperature": 0}}) == 0.0
    assert sampling_temperature({"config": {"temperature": 1}}) == 1.0


def test_a_large_string_and_its_digest_text_never_collide() -> None:
    big = "x" * 10_000
    forged = keys._memo.digest(big)
    assert key(BASE | {"metadata": {"v": big}}) != key(BASE | {"metadata": {"v": forged}})


strings = st.text(max_size=20) | st.text(min_size=250, max_size=300) | st.just("\x00H") | st.just("\x00E")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, json_values)
def test_keys_collide_only_for_equal_values(a: Any, b: Any) -> None:
    same = key({"metadata": a}) == key({"metadata": b})
    assert same == (_typed(a) == _typed(b))


def _typed(value: Any) -> Any:
    """Equality that, like the API, tells 1 from True and 1.0, and [..] order apart."""
    if isinstance(value, dict):
        return ("d", {k: _typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("l", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)
