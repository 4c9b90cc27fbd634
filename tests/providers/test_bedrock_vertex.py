"""One Prompt for Anthropic's API, Bedrock and Vertex clients, and for every other provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from promptcache import RuleViolation
from promptcache.clock import ManualClock
from promptcache.providers.anthropic.platforms import render_anthropic_platform
from promptcache.providers.gemini.render import render_gemini, render_gemini_openai_compatible
from promptcache.providers.openai.render import render_openai_chat, render_openai_responses
from promptcache.testing import AnthropicServer, GeminiServer, OpenAIServer

from .._shared_prompt import shared_prompt

#: The shared prompt carries a thinking block, which OpenAI and Gemini cannot take: the renderers
#: warn about it, as tests/providers/test_dropped_warning.py checks; here it is beside the point.
DROPS_THINKING = pytest.mark.filterwarnings("ignore::promptcache.errors.DroppedContentWarning")

BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(clock=ManualClock()) as s:
        yield s


def bedrock(server: AnthropicServer) -> anthropic.AnthropicBedrock:
    # api_key is Bedrock's bearer-token auth: no AWS signing, no boto3 needed.
    return anthropic.AnthropicBedrock(api_key="test", aws_region="us-east-1", base_url=server.url,
                                      max_retries=0)


def vertex(server: AnthropicServer) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(region="us-east5", project_id="proj", access_token="token",
                                     base_url=server.url + "/v1", max_retries=0)


def _wire(kwargs: Any) -> Any:
    return json.loads(json.dumps(kwargs))


def test_bedrock_client_sends_the_rendered_request_to_invoke(server: AnthropicServer) -> None:
    rendered = render_anthropic_platform(shared_prompt(), platform="bedrock", model=BEDROCK_MODEL)
    bedrock(server).messages.create(**rendered.kwargs)
    received = server.requests[-1]
    assert received.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"
    expected = {k: v for k, v in _wire(rendered.kwargs).items() if k != "model"}
    body = received.json()
    assert isinstance(body.pop("anthropic_version"), str)  # the SDK's, added by the client
    assert body == expected


def test_bedrock_caches_with_explicit_breakpoints_only(server: AnthropicServer) -> None:
    rendered = render_anthropic_platform(shared_prompt(), platform="bedrock", model=BEDROCK_MODEL)
    assert "cache_control" not in rendered.kwargs and rendered.plan.breakpoints
    client = bedrock(server)
    first = client.messages.create(**rendered.kwargs).usage
    second = client.messages.create(**rendered.kwargs).usage
    assert first.cache_creation_input_tokens and second.cache_read_input_tokens


def test_automatic_caching_on_bedrock_is_refused_before_sending() -> None:
    with pytest.raises(RuleViolation) as e:
        render_anthropic_platform(shared_prompt(), platform="bedrock", model=BEDROCK_MODEL, automatic="5m")
    assert e.value.rule == "automatic-unsupported"


def test_the_fake_bedrock_rejects_request_level_cache_control(server: AnthropicServer) -> None:
    rendered = render_anthropic_platform(shared_prompt(), platform="api")
    with pytest.raises(anthropic.BadRequestError):
        bedrock(server).messages.create(**{**rendered.kwargs, "model": BEDROCK_MODEL},
                                        cache_control={"type": "ephemeral"})


def test_bedrock_uses_its_own_minimums() -> None:
    api = render_anthropic_platform(shared_prompt("claude-fable-5"), platform="api")
    on_bedrock = render_anthropic_platform(shared_prompt("claude-fable-5"), platform="bedrock",
                                 model="anthropic.claude-fable-5-v1:0")
    assert api.plan.settings["min_cacheable_tokens"] == "512"
    assert on_bedrock.plan.settings["min_cacheable_tokens"] == "1024"


def test_vertex_client_sends_the_rendered_request_to_raw_predict(server: AnthropicServer) -> None:
    rendered = render_anthropic_platform(shared_prompt(), platform="vertex", model=VERTEX_MODEL,
                               automatic="5m")
    client = vertex(server)
    client.messages.create(**rendered.kwargs)
    usage = client.messages.create(**rendered.kwargs).usage
    received = server.requests[-1]
    assert received.path == ("/v1/projects/proj/locations/us-east5/publishers/anthropic/models/"
                             "claude-sonnet-4-5@20250929:rawPredict")
    expected = {k: v for k, v in _wire(rendered.kwargs).items() if k != "model"}
    body = received.json()
    assert isinstance(body.pop("anthropic_version"), str)
    assert body == expected
    assert usage.cache_read_input_tokens


@DROPS_THINKING
def test_one_prompt_renders_and_is_sent_unchanged_to_every_provider() -> None:
    prompt = shared_prompt()
    clock = ManualClock()
    with AnthropicServer(clock=clock) as a, OpenAIServer(clock=clock) as o, \
            GeminiServer(clock=clock) as g:
        api = render_anthropic_platform(prompt, platform="api")
        anthropic.Anthropic(base_url=a.url, api_key="t", max_retries=0).messages.create(**api.kwargs)
        assert a.requests[-1].json() == _wire(api.kwargs)
        bedrock(a).messages.create(**render_anthropic_platform(prompt, platform="bedrock",
                                                     model=BEDROCK_MODEL).kwargs)
        vertex(a).messages.create(**render_anthropic_platform(prompt, platform="vertex",
                                                    model=VERTEX_MODEL).kwargs)
        oa = openai.OpenAI(base_url=o.url + "/v1", api_key="t", max_retries=0)
        for model in ("gpt-4o", "gpt-5.6"):
            chat = render_openai_chat(prompt, model=model)
            oa.chat.completions.create(**chat.kwargs)
            assert o.requests[-1].json() == _wire(chat.kwargs)
            responses = render_openai_responses(prompt, model=model)
            oa.responses.create(**responses.kwargs)
            assert o.requests[-1].json() == _wire(responses.kwargs)
        gc = genai.Client(api_key="t", http_options=types.HttpOptions(base_url=g.url,
                                                                      api_version="v1beta"))
        native = render_gemini(prompt, model="gemini-2.5-flash")
        gc.models.generate_content(**native.kwargs)
        assert g.requests[-1].path == "/v1beta/models/gemini-2.5-flash:generateContent"
        compat = render_gemini_openai_compatible(prompt, model="gemini-2.5-flash")
        openai.OpenAI(base_url=g.url + "/v1beta/openai", api_key="t",
                      max_retries=0).chat.completions.create(**compat.kwargs)
        assert g.requests[-1].json() == _wire(compat.kwargs)
    assert len(a.requests) == 3 and len(o.requests) == 4
