"""The response cache on boto3's Bedrock Converse client (``converse``, ``converse_stream``).

The real boto3 ``bedrock-runtime`` client talks to the loopback ``ConverseServer`` through
``endpoint_url`` with dummy credentials and a region: no network, no AWS account. A hit never
reaches the server (its request count does not move); two clients the API would answer apart
(region, endpoint, credentials) never share an entry.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import EndpointConnectionError

from promptcache.cache import CachedStream, MemoryBackend, cache_client, uncache_client
from promptcache.clock import ManualClock
from promptcache.dropin import wrap
from promptcache.state import CacheState
from promptcache.testing import ConverseServer

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MANUAL = "You answer from the shipping manual. " + " ".join(
    f"Rule {i}: parcels over {i} kg need form {i}." for i in range(300))


def ask(text: str = "Can I ship a 3 kg parcel?", **extra: Any) -> dict[str, Any]:
    return {"modelId": MODEL, "system": [{"text": MANUAL}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 64}, **extra}


@pytest.fixture
def server() -> Iterator[ConverseServer]:
    with ConverseServer(clock=ManualClock()) as s:
        yield s


def client(server: ConverseServer, *, region: str = "us-east-1", secret: str = "test",
           key: str = "AKIDTEST", url: str | None = None) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=url or server.url, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def test_an_identical_converse_call_is_served_without_reaching_the_api(
        server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    first = c.converse(**ask())
    sent = len(server.requests)
    again = c.converse(**ask())
    assert len(server.requests) == sent
    assert again["output"] == first["output"] and again["usage"] == first["usage"]
    assert again["stopReason"] == first["stopReason"]
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    c.converse(**ask("Can I ship a 30 kg parcel?"))
    assert len(server.requests) == sent + 1  # another question is another entry


def test_a_hit_is_the_callers_own_copy(server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    c.converse(**ask())
    hit = c.converse(**ask())
    hit["output"]["message"]["content"].clear()
    assert c.converse(**ask())["output"]["message"]["content"]


def test_a_converse_stream_read_to_the_end_is_replayed(server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    live = c.converse_stream(**ask())
    events = list(live["stream"])
    sent = len(server.requests)
    assert any("contentBlockDelta" in e for e in events) and any("metadata" in e for e in events)
    replay = c.converse_stream(**ask())
    assert isinstance(replay["stream"], CachedStream) and replay["stream"].from_cache
    assert list(replay["stream"]) == events
    assert replay["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(server.requests) == sent


def test_a_stream_left_half_read_stores_nothing(server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    live = c.converse_stream(**ask())
    next(iter(live["stream"]))
    live["stream"].close()
    sent = len(server.requests)
    list(c.converse_stream(**ask())["stream"])
    assert len(server.requests) == sent + 1


@pytest.mark.parametrize("other", [{"region": "eu-west-1"}, {"secret": "other-secret"},
                                   {"key": "AKIDOTHER"}, {"url": "http://127.0.0.1:1"}],
                         ids=["region", "secret", "access-key", "endpoint"])
def test_clients_the_api_answers_apart_never_share_an_entry(
        server: ConverseServer, other: dict[str, str]) -> None:
    backend = MemoryBackend()
    cache_client(client(server), backend=backend).converse(**ask())
    stranger = cache_client(client(server, **other), backend=backend)
    if "url" in other:  # nothing listens there: a shared entry would have answered
        with pytest.raises(EndpointConnectionError):
            stranger.converse(**ask())
        return
    sent = len(server.requests)
    stranger.converse(**ask())
    assert len(server.requests) == sent + 1


def test_clients_with_the_same_settings_share_entries(server: ConverseServer) -> None:
    backend = MemoryBackend()
    cache_client(client(server), backend=backend).converse(**ask())
    sent = len(server.requests)
    cache_client(client(server), backend=backend).converse(**ask())
    assert len(server.requests) == sent


class _Refreshing(CredentialProvider):  # type: ignore[misc]  # botocore is untyped
    """A credential provider whose credentials refresh (an assumed role, SSO...)."""

    METHOD = "promptcache-test"

    def load(self) -> RefreshableCredentials:
        def fetch() -> dict[str, str]:
            expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
            return {"access_key": "AKIDROLE", "secret_key": "role-secret", "token": "t",
                    "expiry_time": expiry.isoformat()}

        return RefreshableCredentials.create_from_metadata(fetch(), fetch, self.METHOD)


def refreshing_client(server: ConverseServer) -> Any:
    session = botocore.session.get_session()
    session.get_component("credential_provider").insert_before("env", _Refreshing())
    return boto3.Session(botocore_session=session).client(
        "bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}))


def test_refreshing_credentials_are_keyed_by_their_own_object(server: ConverseServer) -> None:
    """Equal refreshable credentials may belong to different tenants after their next refresh:
    each object is its own identity, so only the client holding it shares its entries."""
    backend = MemoryBackend()
    one = cache_client(refreshing_client(server), backend=backend)
    one.converse(**ask())
    sent = len(server.requests)
    one.converse(**ask())
    assert len(server.requests) == sent
    cache_client(refreshing_client(server), backend=backend).converse(**ask())
    assert len(server.requests) == sent + 1


def test_a_sampled_call_is_not_cached_unless_asked(server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    sampled = ask(inferenceConfig={"maxTokens": 64, "temperature": 0.9})
    c.converse(**sampled)
    sent = len(server.requests)
    c.converse(**sampled)
    assert len(server.requests) == sent + 1
    cache_client(c, backend=MemoryBackend(), cache_sampling=True)
    c.converse(**sampled)
    c.converse(**sampled)
    assert len(server.requests) == sent + 2


def test_uncache_client_restores_the_boto3_methods(server: ConverseServer) -> None:
    c = cache_client(client(server), backend=MemoryBackend())
    uncache_client(c)
    c.converse(**ask())
    sent = len(server.requests)
    c.converse(**ask())
    assert len(server.requests) == sent + 1


def test_wrap_with_a_response_cache_plans_then_serves_the_planned_request(
        server: ConverseServer) -> None:
    c = wrap(client(server), state=CacheState(), response_cache=MemoryBackend())
    first = c.converse(**ask())
    sent = len(server.requests)
    assert any("cachePoint" in block for block in server.requests[-1].json()["system"])
    billed = c.promptcache.ledger.totals().calls
    again = c.converse(**ask())
    assert len(server.requests) == sent
    assert again["output"] == first["output"]
    assert c.promptcache.ledger.totals().calls == billed == 1  # a hit is never billed
    stream = c.converse_stream(**ask("And a 5 kg one?"))
    events = list(stream["stream"])
    replay = c.converse_stream(**ask("And a 5 kg one?"))
    assert list(replay["stream"]) == events
    assert len(server.requests) == sent + 1
