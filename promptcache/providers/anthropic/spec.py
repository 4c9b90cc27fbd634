"""Anthropic's entry in the provider registry: Messages API clients (also Bedrock and Vertex)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.limits import Platform
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.spec import ProviderSpec, Ref, SdkMethod

__all__ = ["SPEC"]

_PREPARE = Ref("promptcache.dropin._anthropic:prepare_messages")
_RESPONSE_KEYS = frozenset({"cache_creation_input_tokens", "cache_read_input_tokens",
                            "cache_creation", "stop_reason", "content"})


def _recognises(client: Any) -> bool:
    return type(client).__module__.split(".")[0] == "anthropic"


def _platform(client: Any) -> Platform:
    name = type(client).__name__
    return "bedrock" if "Bedrock" in name else "vertex" if "Vertex" in name else "api"


def _request_api(request: Mapping[str, Any]) -> str | None:
    # Asked last: a ``messages`` request no other provider claimed.
    return "messages" if "messages" in request else None


def _claims_response(d: Mapping[str, Any]) -> bool:
    inner = set(d) | set(as_dict(d.get("usage")))
    return bool(inner & _RESPONSE_KEYS) or str(d.get("type", "")).startswith(
        ("message", "content_block"))


SPEC = ProviderSpec(
    name="anthropic",
    recognises_client=_recognises,
    platform_of=_platform,
    request_api=_request_api,
    default_api=lambda request: "messages",
    request_rank=2,
    response_packages=frozenset({"anthropic"}),
    claims_response=_claims_response,
    response_rank=1,
    read_request=Ref("promptcache.providers.anthropic.view:read_request"),
    render=Ref("promptcache.providers.anthropic.render:render_anthropic"),
    parse_usage=Ref("promptcache.providers.anthropic.usage:usage_from_anthropic"),
    simulator=Ref("promptcache.providers.anthropic.simulator:AnthropicCacheSimulator"),
    server=Ref("promptcache.providers.anthropic.server:AnthropicServer"),
    session_adapter=Ref("promptcache.session._anthropic:for_session"),
    plans_memo=True,
    read_prompt=Ref("promptcache.providers.anthropic.render:read_prompt"),
    preview=Ref("promptcache.providers.anthropic.render:preview_anthropic"),
    methods=(
        SdkMethod(path="messages.create", prepare=_PREPARE,
                  cached_as="anthropic.messages.create",
                  response_type=Ref("anthropic.types:Message"),
                  event_type=Ref("anthropic.types:RawMessageStreamEvent")),
        SdkMethod(path="messages.stream", prepare=_PREPARE, kind="manager"),
        # The beta resource takes the same request (plus ``betas`` and beta-only parameters,
        # which reach the SDK as written); Bedrock and Vertex clients have it too. Its own
        # response-cache endpoint: a beta answer is never served for a plain call.
        SdkMethod(path="beta.messages.create", prepare=_PREPARE, optional=True,
                  cached_as="anthropic.beta.messages.create",
                  response_type=Ref("anthropic.types.beta:BetaMessage"),
                  event_type=Ref("anthropic.types.beta:BetaRawMessageStreamEvent")),
        SdkMethod(path="beta.messages.stream", prepare=_PREPARE, kind="manager", optional=True),
    ),
)
