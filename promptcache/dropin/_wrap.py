"""``wrap(client)``: an existing anthropic, openai or google-genai client that plans caching.

One call, and code written as in the SDK's own quick start caches: each request's keyword
arguments are read into a Prompt, planned with the process's (or the given) CacheState,
rendered, and sent through the client's own method; usage adds up in ``client.promptcache.ledger``.
The response cache joins the same wrapper (``response_cache=``): it sits above the planning layer
and keys on the request as the caller wrote it, so a hit never pays for planning (the planned
request differs from the written one only in cache hints, which never change the answer).
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from promptcache.cache import CacheBackend, cache_client
from promptcache.dropin._anthropic import PromptMemo
from promptcache.dropin._core import WrapHandle, WrappedMethod, default_state, wrapped_method
from promptcache.dropin._patch import patch, restore
from promptcache.errors import PromptCacheError
from promptcache.providers.registry import ProviderSpec, spec_for_client
from promptcache.state import CacheState
from promptcache.usage import Ledger

__all__ = ["handle_of", "unwrap", "wrap"]

C = TypeVar("C")

def _spec(client: Any) -> ProviderSpec:
    spec = spec_for_client(client)
    if spec is None:
        module, name = type(client).__module__, type(client).__name__
        raise PromptCacheError(
            f"wrap() does not know {module}.{name}. Pass an anthropic (Anthropic, AsyncAnthropic, "
            "AnthropicBedrock, AnthropicVertex), openai (OpenAI, AsyncOpenAI) or google-genai "
            "(genai.Client) client.")
    return spec


def _targets(client: Any, spec: ProviderSpec) -> list[tuple[Any, str, WrappedMethod]]:
    return [(resource, method.method, wrapped_method(spec, method))
            for resource, method in spec.targets(client)]


#: The SDK methods that return a new client configured like this one (openai and anthropic).
_COPIES = ("copy", "with_options")
#: Attribute marking a ``copy``/``with_options`` replacement that wraps the new client.
_COPYING = "__promptcache_copying__"


def _wrap_copies(client: Any, handle: WrapHandle, response_cache: CacheBackend | bool | None,
                 namespace: str) -> None:
    """Make ``client.copy(...)`` and ``client.with_options(...)`` return wrapped clients.

    The SDK builds a fresh client, which carries none of the instance's replaced methods: without
    this, ``wrapped.with_options(timeout=30).messages.create(...)`` would go out unplanned and
    past the response cache, silently. The copy shares the state, the ledger and the prompt memo
    (a new :class:`WrapHandle`, so ``last`` and the counts are its own).
    """
    for name in _COPIES:
        method = getattr(type(client), name, None)
        if not callable(method):
            continue

        def copying(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            new = _method(client, *args, **kwargs)
            copied = wrap(new, state=handle.state, ledger=handle.ledger,
                          response_cache=response_cache, namespace=namespace, **handle.options)
            handle_of(copied).memo = handle.memo
            return copied

        functools.update_wrapper(copying, method)
        setattr(copying, _COPYING, True)
        setattr(client, name, copying)


def _unwrap_copies(client: Any) -> None:
    for name in _COPIES:
        if getattr(vars(client).get(name), _COPYING, False):
            delattr(client, name)


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
    again replaces the settings; :func:`unwrap` undoes it. ``client.with_options(...)`` and
    ``client.copy(...)`` return wrapped clients sharing the state, ledger and response cache.
    """
    spec = _spec(client)
    targets = _targets(client, spec)
    cached = response_cache is not None and response_cache is not False
    previous = vars(client).get("promptcache")
    owned = isinstance(previous, WrapHandle) and previous.owns_cache
    for resource, method, _ in targets:
        restore(resource, method, cache=cached or owned)
    handle = WrapHandle(client, provider=spec.name, platform=spec.platform_of(client),
                        state=state if state is not None else default_state(),
                        ledger=ledger if ledger is not None else Ledger(), options=options)
    handle.owns_cache = cached
    if spec.plans_memo:
        handle.memo = PromptMemo()
    for resource, method, endpoint in targets:
        patch(resource, method, endpoint, handle)
    if cached:
        # The response cache goes *above* the planning layer and keys on the request as the
        # caller wrote it: a hit costs a key and a lookup, never a plan; only a miss reaches the
        # planner (and is billed and recorded there). See docs/response-cache.md, "Through wrap".
        backend = None if isinstance(response_cache, bool) else response_cache
        cache_client(client, backend=backend, namespace=namespace)
    _wrap_copies(client, handle, response_cache, namespace)
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
    for resource, method, _ in _targets(client, _spec(client)):
        restore(resource, method, cache=True)
    _unwrap_copies(client)
    if "promptcache" in vars(client):
        del client.promptcache  # type: ignore[attr-defined]
    return client
