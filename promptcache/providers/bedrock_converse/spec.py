"""Amazon Bedrock Converse's entry in the provider registry: boto3 ``bedrock-runtime`` clients.

A boto3 client is a ``botocore.client`` class made at run time for its service, so it is
recognised by that module and its service name, never by importing boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.limits import Platform
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.spec import ProviderSpec, Ref, SdkMethod

__all__ = ["SPEC"]

_PREPARE = Ref("promptcache.providers.bedrock_converse.dropin:prepare_converse")
#: boto3's ``ResponseMetadata`` (request id, HTTP headers, retries) describes the transport; a
#: response served from the cache carries a plain HTTP 200 in its place, so code that reads
#: ``response["ResponseMetadata"]["HTTPStatusCode"]`` works on a hit too.
_TRANSPORT = frozenset({"ResponseMetadata"})
_SERVED_WITH = {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}
_USAGE_KEYS = frozenset({"inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"})


def _recognises(client: Any) -> bool:
    if type(client).__module__ != "botocore.client":
        return False
    model = getattr(getattr(client, "meta", None), "service_model", None)
    return getattr(model, "service_name", None) == "bedrock-runtime"


def _platform(client: Any) -> Platform:
    return "bedrock"


def _request_api(request: Mapping[str, Any]) -> str | None:
    return "converse" if "modelId" in request and "messages" in request else None


def _claims_response(d: Mapping[str, Any]) -> bool:
    usage = as_dict(d.get("usage")) or as_dict(as_dict(d.get("metadata")).get("usage"))
    return bool(set(usage) & _USAGE_KEYS) or bool(set(d) & _USAGE_KEYS) or "stopReason" in d


SPEC = ProviderSpec(
    name="bedrock_converse",
    recognises_client=_recognises,
    platform_of=_platform,
    request_api=_request_api,
    default_api=lambda request: "converse",
    model_key="modelId",
    request_rank=-1,  # ``modelId`` is Converse's alone: asked first
    response_packages=frozenset(),  # boto3 answers with plain dicts
    claims_response=_claims_response,
    response_rank=-1,
    read_request=Ref("promptcache.providers.bedrock_converse.view:read_request"),
    render=Ref("promptcache.providers.bedrock_converse.render:render_bedrock_converse"),
    parse_usage=Ref("promptcache.providers.bedrock_converse.usage:usage_from_converse"),
    simulator=Ref("promptcache.providers.bedrock_converse.simulator:ConverseCacheSimulator"),
    server=Ref("promptcache.providers.bedrock_converse.server:ConverseServer"),
    session_adapter=Ref("promptcache.providers.bedrock_converse.session:for_session"),
    stream_usage=Ref("promptcache.providers.bedrock_converse.usage:ConverseStreamUsage"),
    read_prompt=Ref("promptcache.providers.bedrock_converse.render:read_prompt"),
    preview=Ref("promptcache.providers.bedrock_converse.render:preview_converse"),
    strip_markers=Ref("promptcache.providers.bedrock_converse.render:strip_cache_points"),
    methods=(
        SdkMethod(path="converse", prepare=_PREPARE, cached_as="bedrock_converse.converse",
                  streaming="never", plain=True, exclude=_TRANSPORT, served_with=_SERVED_WITH),
        # boto3 returns {"stream": EventStream, ...}: the wrapper proxies the "stream" value, and
        # the response cache records its events (plain dicts) and replays them in its place.
        SdkMethod(path="converse_stream", prepare=_PREPARE, kind="stream", stream_key="stream",
                  cached_as="bedrock_converse.converse_stream", streaming="always", plain=True,
                  exclude=_TRANSPORT, served_with=_SERVED_WITH),
    ),
)
