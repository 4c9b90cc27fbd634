"""The response-cache key: equivalent requests match, different ones (or tenants) never do."""

from __future__ import annotations

import itertools
from typing import Any

import anthropic
import openai
import pytest
from anthropic.lib.credentials import AccessToken
from google import genai
from google.auth.credentials import AnonymousCredentials
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


class TokenProvider:
    """An Anthropic ``credentials=`` provider; equal to every other one, as a careless
    ``__eq__`` (or a dataclass) may make it: identity must not rely on equality."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, *, force_refresh: bool = False) -> AccessToken:
        return AccessToken(token=self.token)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenProvider)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "TokenProvider()"


LOCAL = "http://127.0.0.1:1"
AZURE = {"api_version": "2024-10-21", "azure_endpoint": "https://tenant.openai.azure.com"}


def anthropic_forms(provider_a: TokenProvider, provider_b: TokenProvider) -> list[Any]:
    """Every credential form anthropic's clients accept (installed SDK: api_key, auth_token,
    credentials; Bedrock and Bedrock Mantle: AWS keys, session token, profile, region, api_key;
    Vertex: region, project_id, access_token, credentials; Foundry: api_key,
    azure_ad_token_provider)."""
    bedrock = {"aws_region": "us-east-1", "aws_access_key": "AKIA-A", "aws_secret_key": "s-a"}
    vertex = {"region": "us-east5", "project_id": "p-a"}
    return [
        anthropic.Anthropic(api_key="sk-a", base_url=LOCAL),
        anthropic.Anthropic(api_key="sk-b", base_url=LOCAL),
        anthropic.Anthropic(auth_token="tok-a", base_url=LOCAL),
        anthropic.Anthropic(auth_token="tok-b", base_url=LOCAL),
        anthropic.Anthropic(credentials=provider_a, base_url=LOCAL),
        anthropic.Anthropic(credentials=provider_b, base_url=LOCAL),
        anthropic.Anthropic(credentials=lambda **_: AccessToken(token="t"), base_url=LOCAL),
        anthropic.AnthropicBedrock(**bedrock),
        anthropic.AnthropicBedrock(**bedrock | {"aws_access_key": "AKIA-B"}),
        anthropic.AnthropicBedrock(**bedrock | {"aws_secret_key": "s-b"}),
        anthropic.AnthropicBedrock(**bedrock | {"aws_session_token": "st-a"}),
        anthropic.AnthropicBedrock(**bedrock | {"aws_region": "us-west-2"}),
        anthropic.AnthropicBedrock(aws_region="us-east-1", aws_profile="prof-a"),
        anthropic.AnthropicBedrock(aws_region="us-east-1", api_key="bedrock-key-a"),
        anthropic.AnthropicBedrock(aws_region="us-east-1", api_key="bedrock-key-b"),
        anthropic.AnthropicVertex(**vertex, access_token="ya29-a"),
        anthropic.AnthropicVertex(**vertex, access_token="ya29-b"),
        anthropic.AnthropicVertex(**vertex | {"project_id": "p-b"}, access_token="ya29-a"),
        anthropic.AnthropicVertex(**vertex, credentials=AnonymousCredentials()),
        anthropic.AnthropicVertex(**vertex, credentials=AnonymousCredentials()),
        anthropic.AnthropicBedrockMantle(aws_region="us-east-1", api_key="bedrock-key-a"),
        anthropic.AnthropicBedrockMantle(aws_region="us-east-1", api_key="mantle-key-b"),
        anthropic.AnthropicBedrockMantle(**bedrock),
        anthropic.AnthropicFoundry(resource="r", api_key="f-a"),
        anthropic.AnthropicFoundry(resource="r", api_key="f-b"),
        anthropic.AnthropicFoundry(resource="r", azure_ad_token_provider=lambda: "t"),
        anthropic.AnthropicFoundry(resource="r", azure_ad_token_provider=lambda: "t"),
    ]


def workload(account: str, provider: Any = None) -> Any:
    """An openai ``workload_identity`` (a TypedDict: a plain dict at run time)."""
    return {"identity_provider_id": "idp-1", "service_account_id": account,
            "provider": provider if provider is not None else SUBJECT_TOKENS}


#: One subject-token provider shared by the workload identities above, so only the account
#: (a value inside the dict) tells them apart.
SUBJECT_TOKENS = {"type": "file", "path": "/var/run/token"}


def openai_forms() -> list[Any]:
    """Every credential form openai's clients accept (installed SDK: api_key as a string or a
    callable, admin_api_key, workload_identity, organization, project; Azure: api_key, azure_ad_token,
    azure_ad_token_provider, endpoint, deployment, api_version)."""
    return [
        openai.OpenAI(api_key="sk-a", base_url=LOCAL),
        openai.OpenAI(api_key="sk-b", base_url=LOCAL),
        openai.OpenAI(api_key=lambda: "sk-a", base_url=LOCAL),
        openai.OpenAI(api_key=lambda: "sk-a", base_url=LOCAL),
        openai.OpenAI(api_key="sk-a", admin_api_key="adm-a", base_url=LOCAL),
        openai.OpenAI(workload_identity=workload("sa-a"), base_url=LOCAL),
        openai.OpenAI(workload_identity=workload("sa-b"), base_url=LOCAL),
        openai.OpenAI(api_key="sk-a", organization="org-a", base_url=LOCAL),
        openai.OpenAI(api_key="sk-a", organization="org-b", base_url=LOCAL),
        openai.OpenAI(api_key="sk-a", project="proj-a", base_url=LOCAL),
        openai.OpenAI(api_key="sk-a", project="proj-b", base_url=LOCAL),
        openai.AzureOpenAI(api_key="az-a", **AZURE),
        openai.AzureOpenAI(api_key="az-b", **AZURE),
        openai.AzureOpenAI(api_key="az-a", **AZURE | {"api_version": "2025-01-01-preview"}),
        openai.AzureOpenAI(api_key="az-a", **AZURE | {"azure_endpoint": "https://other.openai.azure.com"}),
        openai.AzureOpenAI(api_key="az-a", azure_deployment="d-a", **AZURE),
        openai.AzureOpenAI(azure_ad_token="A", **AZURE),
        openai.AzureOpenAI(azure_ad_token="B", **AZURE),
        openai.AzureOpenAI(azure_ad_token_provider=lambda: "A", **AZURE),
        openai.AzureOpenAI(azure_ad_token_provider=lambda: "A", **AZURE),
    ]


def genai_forms() -> list[Any]:
    """Every credential form google-genai's client accepts (installed SDK: api_key; Vertex AI:
    credentials, project, location)."""
    vertex = {"vertexai": True, "project": "p-a", "location": "us-central1"}
    return [
        genai.Client(api_key="AIza-a"),
        genai.Client(api_key="AIza-b"),
        genai.Client(**vertex, credentials=AnonymousCredentials()),
        genai.Client(**vertex, credentials=AnonymousCredentials()),
        genai.Client(**vertex | {"project": "p-b"}, credentials=AnonymousCredentials()),
        genai.Client(**vertex | {"location": "europe-west4"}, credentials=AnonymousCredentials()),
    ]


@pytest.mark.parametrize("sdk", ["anthropic", "openai", "google-genai"])
def test_every_credential_form_each_sdk_accepts_decides_the_tenant(sdk: str) -> None:
    """Issue 21 item 1: credentials that are objects (token providers, Azure AD token
    providers, callables, google-auth ``Credentials``) were skipped, so tenants shared entries."""
    if sdk == "anthropic":
        clients = anthropic_forms(TokenProvider("tenant-a"), TokenProvider("tenant-b"))
    else:
        clients = openai_forms() if sdk == "openai" else genai_forms()
    try:
        assert_all_distinct(clients, client_identity)
        for c in clients:  # stable while the client lives: a repeat call hits
            assert client_identity(c) == client_identity(c)
    finally:
        for c in clients:
            c.close()


def test_the_same_credentials_object_is_the_same_tenant() -> None:
    provider = TokenProvider("tenant-a")
    a, b = (anthropic.Anthropic(credentials=provider, base_url=LOCAL) for _ in range(2))
    ad = lambda: "A"  # noqa: E731
    x, y = (openai.AzureOpenAI(azure_ad_token_provider=ad, **AZURE) for _ in range(2))
    try:
        assert client_identity(x) == client_identity(y)
        assert client_identity(a) == client_identity(b)
    finally:
        for c in (a, b, x, y):
            c.close()


def test_a_workload_identity_edited_in_place_is_another_tenant() -> None:
    identity = workload("sa-a")
    client = openai.OpenAI(workload_identity=identity, base_url=LOCAL)
    try:
        before = client_identity(client)
        identity["service_account_id"] = "sa-b"
        assert client_identity(client) != before
    finally:
        client.close()


def test_a_string_azure_ad_token_is_keyed_by_value_and_never_shown() -> None:
    a, b = (openai.AzureOpenAI(azure_ad_token="eyJ-tenant-a", **AZURE) for _ in range(2))
    try:
        assert client_identity(a) == client_identity(b)
        a._azure_ad_token = "eyJ-tenant-b"
        assert client_identity(a) != client_identity(b)
    finally:
        a.close()
        b.close()


def test_an_object_token_is_never_reused_for_another_object() -> None:
    tokens = keys._ObjectTokens()
    seen = set()
    for _ in range(200):  # dead objects' ids are reused by CPython: their tokens must not be
        seen.add(tokens.token(TokenProvider("t")))
    assert len(seen) == 200
    unweakable = (1, [2])  # a tuple cannot be weakly referenced: held, so its id stays its own
    assert tokens.token(unweakable) == tokens.token(unweakable)


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
