"""OpenAI's entry in the provider registry: chat completions and the responses API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.limits import Platform
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.spec import ProviderSpec, Ref, SdkMethod

__all__ = ["SPEC"]

_CHAT = Ref("promptcache.dropin._openai:prepare_chat")
_RESPONSES = Ref("promptcache.dropin._openai:prepare_responses")
_CACHE_KEYS = frozenset({"prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"})
_RESPONSE_KEYS = frozenset({"prompt_tokens", "prompt_tokens_details", "input_tokens_details",
                            "choices", "object", "output"})


def _recognises(client: Any) -> bool:
    return type(client).__module__.split(".")[0] == "openai"


def _platform(client: Any) -> Platform:
    return "api"


def _request_api(request: Mapping[str, Any]) -> str | None:
    """``input``/``instructions`` is responses; ``messages`` is chat when a role, a key or the
    model id only OpenAI has says so."""
    if "input" in request or "instructions" in request:
        return "responses"
    if "messages" not in request:
        return None
    messages = request["messages"]
    roles = {m.get("role") for m in messages if isinstance(m, Mapping)} \
        if isinstance(messages, list) else set()
    if roles & {"system", "developer", "tool"} or _CACHE_KEYS & set(request):
        return "chat"
    model = str(request.get("model", "")).lower()
    if model.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        return "chat"
    return None


def _claims_response(d: Mapping[str, Any]) -> bool:
    inner = set(d) | set(as_dict(d.get("usage")))
    return bool(inner & _RESPONSE_KEYS) or str(d.get("type", "")).startswith("response.")


SPEC = ProviderSpec(
    name="openai",
    recognises_client=_recognises,
    platform_of=_platform,
    request_api=_request_api,
    default_api=lambda request: "responses" if "input" in request else "chat",
    request_rank=1,
    response_packages=frozenset({"openai"}),
    claims_response=_claims_response,
    response_rank=2,
    read_request=Ref("promptcache.providers.openai.view:read_request"),
    render=Ref("promptcache.providers.openai.render:render_openai_chat"),
    parse_usage=Ref("promptcache.providers.openai.usage:usage_from_openai"),
    simulator=Ref("promptcache.providers.openai.simulator:OpenAICacheSimulator"),
    server=Ref("promptcache.providers.openai.server:OpenAIServer"),
    session_adapter=Ref("promptcache.session._openai:for_session"),
    session_apis=("chat", "responses"),
    read_prompt=Ref("promptcache.providers.openai.request:read_prompt"),
    preview=Ref("promptcache.providers.openai.render:preview_openai"),
    methods=(
        SdkMethod(path="chat.completions.create", prepare=_CHAT,
                  cached_as="openai.chat.completions.create",
                  response_type=Ref("openai.types.chat:ChatCompletion"),
                  event_type=Ref("openai.types.chat:ChatCompletionChunk")),
        SdkMethod(path="responses.create", prepare=_RESPONSES,
                  cached_as="openai.responses.create",
                  response_type=Ref("openai.types.responses:Response"),
                  event_type=Ref("openai.types.responses:ResponseStreamEvent")),
        # After ``create``: the helpers' managers send through the wrapped ``create``.
        SdkMethod(path="chat.completions.stream", prepare=_CHAT, kind="helper", optional=True),
        SdkMethod(path="responses.stream", prepare=_RESPONSES, kind="helper", optional=True),
    ),
)
