"""Gemini's entry in the provider registry: ``google.genai`` clients (sync, and ``client.aio``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.limits import Platform
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.spec import ProviderSpec, Ref, SdkMethod

__all__ = ["SPEC"]

_PREPARE = Ref("promptcache.dropin._gemini:prepare_generate")
_RESPONSE = Ref("google.genai.types:GenerateContentResponse")
_TRANSPORT = frozenset({"sdk_http_response"})
_RESPONSE_KEYS = frozenset({"usageMetadata", "usage_metadata", "promptTokenCount",
                            "prompt_token_count", "cachedContentTokenCount", "candidates",
                            "total_cached_tokens"})


def _recognises(client: Any) -> bool:
    return type(client).__module__.startswith("google.genai")


def _platform(client: Any) -> Platform:
    return "api"


def _request_api(request: Mapping[str, Any]) -> str | None:
    if "contents" in request or "system_instruction" in request or "systemInstruction" in request:
        return "generate_content"
    return None


def _claims_response(d: Mapping[str, Any]) -> bool:
    # ``usage.total_cached_tokens``: Gemini's Interactions API.
    return bool(set(d) & _RESPONSE_KEYS) or "total_cached_tokens" in as_dict(d.get("usage"))


SPEC = ProviderSpec(
    name="gemini",
    recognises_client=_recognises,
    platform_of=_platform,
    request_api=_request_api,
    default_api=lambda request: "generate_content",
    request_rank=0,
    response_packages=frozenset({"google"}),
    claims_response=_claims_response,
    response_rank=0,
    read_request=Ref("promptcache.providers.gemini.view:read_request"),
    render=Ref("promptcache.providers.gemini.render:render_gemini"),
    parse_usage=Ref("promptcache.providers.gemini.usage:usage_from_gemini"),
    simulator=Ref("promptcache.providers.gemini.simulator:GeminiCacheSimulator"),
    server=Ref("promptcache.providers.gemini.server:GeminiServer"),
    session_adapter=Ref("promptcache.session._gemini:for_session"),
    holders=("", "aio"),
    async_attribute=True,
    read_prompt=Ref("promptcache.providers.gemini.request:read_prompt"),
    preview=Ref("promptcache.providers.gemini.render:preview_gemini"),
    methods=(
        SdkMethod(path="models.generate_content", prepare=_PREPARE, optional=True,
                  cached_as="genai.models.generate_content", response_type=_RESPONSE,
                  event_type=_RESPONSE, streaming="never", exclude=_TRANSPORT, json_mode=True),
        SdkMethod(path="models.generate_content_stream", prepare=_PREPARE, kind="stream",
                  optional=True, cached_as="genai.models.generate_content_stream",
                  response_type=_RESPONSE, event_type=_RESPONSE, streaming="always",
                  exclude=_TRANSPORT, json_mode=True),
    ),
)
