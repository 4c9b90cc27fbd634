"""``wrap(client)``: an existing anthropic, openai or google-genai client that plans caching.

One call, and code written as in the SDK's own quick start caches: each request's keyword
arguments are read into a Prompt, planned with the process's (or the given) CacheState,
rendered, and sent through the client's own method; usage adds up in ``client.promptcache.ledger``.
The response cache joins the same wrapper (``response_cache=``): it is applied first, so it keys
on the request as actually sent.
"""

from __future__ import annotations

from typing import Any, TypeVar

from promptcache.cache import CacheBackend, cache_client
from promptcache.dropin._anthropic import PromptMemo, prepare_messages
from promptcache.dropin._core import Endpoint, WrapHandle, default_state
from promptcache.dropin._gemini import prepare_generate
from promptcache.dropin._openai import prepare_chat, prepare_responses
from promptcache.dropin._patch import install_probe, patch, restore
from promptcache.errors import PromptCacheError
from promptcache.limits import Platform, Provider
from promptcache.state import CacheState
from promptcache.usage import Ledger

__all__ = ["handle_of", "unwrap", "wrap"]

C = TypeVar("C")

_MESSAGES_CREATE = Endpoint(name="messages.create", provider="anthropic", prepare=prepare_messages)
_MESSAGES_STREAM = Endpoint(name="messages.stream", provider="anthropic", prepare=prepare_messages,
                            kind="manager")
_BETA_CREATE = Endpoint(name="beta.messages.create", provider="anthropic",
                        prepare=prepare_messages)
_BETA_STREAM = Endpoint(name="beta.messages.stream", provider="anthropic",
                        prepare=prepare_messages, kind="manager")
_CHAT = Endpoint(name="chat.completions.create", provider="openai", prepare=prepare_chat)
_CHAT_STREAM = Endpoint(name="chat.completions.stream", provider="openai", prepare=prepare_chat,
                        kind="helper")
_RESPONSES = Endpoint(name="responses.create", provider="openai", prepare=prepare_responses)
_RESPONSES_STREAM = Endpoint(name="responses.stream", provider="openai",
                             prepare=prepare_responses, kind="helper")
_GENERATE = Endpoint(name="models.generate_content", provider="gemini", prepare=prepare_generate)
_GENERATE_STREAM = Endpoint(name="models.generate_content_stream", provider="gemini",
                            prepare=prepare_generate, kind="stream")


def _kind(client: Any) -> tuple[Provider, Platform]:
    module = type(client).__module__
    name = type(client).__name__
    if module.split(".")[0] == "anthropic":
        if "Bedrock" in name:
            return "anthropic", "bedrock"
        if "Vertex" in name:
            return "anthropic", "vertex"
        return "anthropic", "api"
    if module.split(".")[0] == "openai":
        return "openai", "api"
    if module.startswith("google.genai"):
        return "gemini", "api"
    raise PromptCacheError(
        f"wrap() does not know {module}.{name}. Pass an anthropic (Anthropic, AsyncAnthropic, "
        "AnthropicBedrock, AnthropicVertex), openai (OpenAI, AsyncOpenAI) or google-genai "
        "(genai.Client) client.")


def _has(resource: Any, method: str) -> bool:
    return resource is not None and callable(getattr(resource, method, None))


def _targets(client: Any, provider: Provider) -> list[tuple[Any, str, Endpoint]]:
    found: list[tuple[Any, str, Endpoint]] = []
    if provider == "anthropic":
        found = [(client.messages, "create", _MESSAGES_CREATE),
                 (client.messages, "stream", _MESSAGES_STREAM)]
        # The beta resource takes the same request (plus ``betas`` and beta-only parameters,
        # which reach the SDK as written); Bedrock and Vertex clients have it too.
        beta = getattr(getattr(client, "beta", None), "messages", None)
        found += [(beta, name, endpoint) for name, endpoint in
                  (("create", _BETA_CREATE), ("stream", _BETA_STREAM)) if _has(beta, name)]
        return found
    if provider == "openai":
        found = [(client.chat.completions, "create", _CHAT),
                 (client.responses, "create", _RESPONSES)]
        # Listed after ``create``: the helpers' managers send through the wrapped ``create``.
        found += [(resource, "stream", endpoint) for resource, endpoint in
                  ((client.chat.completions, _CHAT_STREAM), (client.responses, _RESPONSES_STREAM))
                  if _has(resource, "stream")]
        return found
    for holder in (client, getattr(client, "aio", None)):
        if holder is not None and hasattr(holder, "models"):
            found += [(holder.models, "generate_content", _GENERATE),
                      (holder.models, "generate_content_stream", _GENERATE_STREAM)]
    return found


def wrap(client: C, *, state: CacheState | None = None, ledger: Ledger | None = None,
         response_cache: CacheBackend | bool | None = None, namespace: str = "default",
         **options: Any) -> C:
    """Make ``client`` plan prompt caching on every request; returns the same client.

    Works on ``anthropic.Anthropic``/``AsyncAnthropic`` (also ``AnthropicBedrock``,
    ``AnthropicVertex``; ``messages.create``, streaming included, ``messages.stream``, and the
    same two on ``beta.messages``), ``openai.OpenAI``/``AsyncOpenAI``
    (``chat.completions.create``, ``responses.create`` and their ``stream(...)`` helpers) and
    ``google.genai.Client`` (``models.generate_content`` and its stream, sync and ``aio``).

    ``state`` defaults to one CacheState shared by every wrapped client in the process (pass a
    fleet's own to share what was written). Usage and cost add up in ``client.promptcache.ledger``
    (or the ``ledger`` given). ``response_cache`` adds the exact-match response cache
    (:mod:`promptcache.cache`): a backend, or ``True`` for the process default
    (``set_response_cache``); ``namespace`` keeps its tenants apart. ``options`` go to the
    provider's planner: ``retention`` and ``prompt_cache_key`` for OpenAI. Calling ``wrap``
    again replaces the settings; :func:`unwrap` undoes it.
    """
    provider, platform = _kind(client)
    targets = _targets(client, provider)
    cached = response_cache is not None and response_cache is not False
    previous = vars(client).get("promptcache")
    owned = isinstance(previous, WrapHandle) and previous.owns_cache
    for resource, method, _ in targets:
        restore(resource, method, cache=cached or owned)
    probed: set[str] = set()
    if cached:
        # The probe goes under the response cache, which keys on the request as sent (after
        # planning): a hit never reaches the probe, so it is not billed or recorded as a write.
        for resource, method, endpoint in targets:
            if endpoint.kind in ("create", "stream"):
                install_probe(resource, method)
                probed.add(endpoint.name)
        backend = None if isinstance(response_cache, bool) else response_cache
        cache_client(client, backend=backend, namespace=namespace)
    handle = WrapHandle(client, provider=provider, platform=platform,
                        state=state if state is not None else default_state(),
                        ledger=ledger if ledger is not None else Ledger(), options=options)
    handle.owns_cache = cached
    if provider == "anthropic":
        handle.memo = PromptMemo()
    for resource, method, endpoint in targets:
        patch(resource, method, endpoint, handle, probed=endpoint.name in probed)
    client.promptcache = handle  # type: ignore[attr-defined]
    return client


def handle_of(client: Any) -> WrapHandle:
    """``client.promptcache``, typed (a type checker does not know ``wrap`` added it)."""
    handle = vars(client).get("promptcache")
    if not isinstance(handle, WrapHandle):
        raise PromptCacheError("This client is not wrapped: call promptcache.wrap(client) first.")
    return handle


def unwrap(client: C) -> C:
    """Undo :func:`wrap` (and the response cache it added): the client's methods are the SDK's."""
    provider, _ = _kind(client)
    for resource, method, _ in _targets(client, provider):
        restore(resource, method, cache=True)
    if "promptcache" in vars(client):
        del client.promptcache  # type: ignore[attr-defined]
    return client
