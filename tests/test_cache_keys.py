"""The response-cache key: equivalent requests match, different ones never do."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from promptcache.cache.keys import UnkeyableRequest, request_key, sampling_temperature

BASE: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "system": [{"type": "text", "text": "You are terse. " * 100, "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "Capital of France?"}],
}


def key(params: dict[str, Any], namespace: str = "default") -> str:
    return request_key("anthropic.messages.create", params, namespace=namespace)


def test_dict_order_does_not_change_the_key() -> None:
    reordered = {k: BASE[k] for k in reversed(list(BASE))}
    reordered["system"] = [dict(reversed(list(BASE["system"][0].items())))]
    assert key(reordered) == key(BASE)


def test_every_parameter_changes_the_key() -> None:
    variants = [
        BASE | {"model": "claude-opus-4-5"},
        BASE | {"max_tokens": 257},
        BASE | {"messages": [{"role": "user", "content": "Capital of Spain?"}]},
        BASE | {"system": [{"type": "text", "text": "You are terse. " * 101}]},
        BASE | {"stop_sequences": ["\n"]},
        BASE | {"metadata": {"user_id": "u1"}},
        BASE | {"extra_body": {"temperature": 0}},
        BASE | {"stream": True},
        BASE | {"max_tokens": 256.0},
    ]
    keys = {key(v) for v in variants}
    assert len(keys) == len(variants)
    assert key(BASE) not in keys


def test_list_order_changes_the_key() -> None:
    two = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert key(BASE | {"messages": two}) != key(BASE | {"messages": two[::-1]})


def test_namespace_and_endpoint_are_part_of_the_key() -> None:
    assert key(BASE, "tenant-a") != key(BASE, "tenant-b")
    assert request_key("openai.responses.create", BASE, namespace="default") != key(BASE)


def test_transport_options_and_credentials_do_not_change_the_key() -> None:
    noisy = BASE | {
        "timeout": 3.0,
        "max_retries": 5,
        "extra_headers": {"X-Api-Key": "sk-ant-1", "Authorization": "Bearer sk-2"},
        "extra_query": {"key": "AIza-secret"},
    }
    assert key(noisy) == key(BASE)


def test_non_secret_headers_stay_in_the_key() -> None:
    beta = BASE | {"extra_headers": {"anthropic-beta": "extended-cache-ttl-2025-04-11"}}
    assert key(beta) != key(BASE)


def test_stream_false_equals_absent() -> None:
    assert key(BASE | {"stream": False}) == key(BASE)


def test_unknown_parameter_types_are_refused() -> None:
    try:
        key(BASE | {"weird": object()})
    except UnkeyableRequest:
        return
    raise AssertionError("an object() parameter must not be keyed")


def test_temperature_is_found_wherever_the_sdk_puts_it() -> None:
    assert sampling_temperature(BASE) is None
    assert sampling_temperature(BASE | {"temperature": 0.7}) == 0.7
    assert sampling_temperature(BASE | {"extra_body": {"temperature": 0}}) == 0.0
    assert sampling_temperature({"config": {"temperature": 1}}) == 1.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, json_values)
def test_keys_collide_only_for_equal_values(a: Any, b: Any) -> None:
    same = key({"v": a}) == key({"v": b})
    assert same == (_typed(a) == _typed(b))


def _typed(value: Any) -> Any:
    """Equality that, like the API, tells 1 from True and [..] order apart."""
    if isinstance(value, dict):
        return ("d", {k: _typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("l", [_typed(v) for v in value])
    return (type(value).__name__, value)
