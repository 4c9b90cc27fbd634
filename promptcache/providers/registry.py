"""The provider registry: one :class:`ProviderSpec` per provider, and the lookups that use them.

This is also where any request becomes the neutral :class:`~promptcache.positions.CacheView`
(:func:`view_of`): the registry picks the provider, its ``view.py`` reads the request.

"Which provider is this?" has one answer, here: for a client (:func:`spec_for_client`), a
request dict (:func:`spec_for_request`), a response (:func:`spec_for_response`) or a name
(:func:`spec_named`). The drop-in wrapper and the response cache patch the SDK methods one table
lists (:attr:`ProviderSpec.methods`). Each spec lives in ``providers/<name>/spec.py`` and names
its heavier parts (renderer, usage parser, simulator, server, planners) by :class:`Ref`, imported
on first use, so ``import promptcache`` stays light and the registry never imports ``dropin/``,
``session/`` or an SDK.

Adding a provider: a folder with its ``spec.py``, one line in :data:`SPECS`, rows in ``limits.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.errors import PromptError
from promptcache.limits import Provider
from promptcache.positions import CacheView
from promptcache.providers._sdkjson import as_dict
from promptcache.providers.spec import ProviderSpec, Ref, SdkMethod

__all__ = [
    "SPECS",
    "ProviderSpec",
    "Ref",
    "SdkMethod",
    "detect_provider",
    "spec_for_client",
    "spec_for_request",
    "spec_for_response",
    "spec_named",
    "view_of",
]


def _specs() -> tuple[ProviderSpec, ...]:
    from promptcache.providers.anthropic.spec import SPEC as ANTHROPIC
    from promptcache.providers.bedrock_converse.spec import SPEC as BEDROCK_CONVERSE
    from promptcache.providers.gemini.spec import SPEC as GEMINI
    from promptcache.providers.openai.spec import SPEC as OPENAI

    return (ANTHROPIC, OPENAI, GEMINI, BEDROCK_CONVERSE)


#: Every provider, in the order the docs and the CLI list them.
SPECS: tuple[ProviderSpec, ...] = _specs()
_BY_NAME: Mapping[str, ProviderSpec] = {s.name: s for s in SPECS}
_BY_PACKAGE: Mapping[str, ProviderSpec] = {p: s for s in SPECS for p in s.response_packages}
_REQUEST_ORDER = tuple(sorted(SPECS, key=lambda s: s.request_rank))
_RESPONSE_ORDER = tuple(sorted(SPECS, key=lambda s: s.response_rank))


def spec_named(name: str) -> ProviderSpec:
    """The spec of provider ``name``; a :class:`PromptError` listing the known names otherwise.

    A ``PromptError`` is also a ``ValueError``: a wrong name is bad input, not a missing key.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise PromptError(f"provider: no provider named {name!r}; known: "
                          f"{', '.join(_BY_NAME)}.", path="provider") from None


def spec_for_client(client: Any) -> ProviderSpec | None:
    """The spec whose SDK ``client`` comes from, or ``None`` (each caller words its own error)."""
    return next((s for s in SPECS if s.recognises_client(client)), None)


def spec_for_request(request: Mapping[str, Any]) -> tuple[ProviderSpec, str] | None:
    """``(spec, api)`` from the shape of a request dict, or ``None`` when no provider's."""
    for spec in _REQUEST_ORDER:
        api = spec.request_api(request)
        if api is not None:
            return spec, api
    return None


def spec_for_response(response: Any) -> ProviderSpec | None:
    """The spec of ``response`` (an SDK object, a dict, or a list of stream events), or ``None``."""
    found = _BY_PACKAGE.get(type(response).__module__.split(".", 1)[0])
    if found is not None:
        return found
    if isinstance(response, Mapping):
        return _from_fields(response)
    if hasattr(response, "model_dump"):
        return _from_fields(as_dict(response))
    if isinstance(response, list | tuple):
        for item in response:
            found = spec_for_response(item)
            if found is not None:
                return found
    return None


def _from_fields(d: Mapping[str, Any]) -> ProviderSpec | None:
    return next((s for s in _RESPONSE_ORDER if s.claims_response(d)), None)


def view_of(request: Any, *, provider: Provider | None = None) -> CacheView:
    """The cache's view of ``request``: any provider's request dict, or a Prompt.

    Raises :class:`~promptcache.errors.PromptError` naming the path of anything malformed.
    """
    as_view = getattr(request, "cache_view", None)
    if callable(as_view):
        view = as_view()
        if isinstance(view, CacheView):
            return view
    return _read_request(request, provider=provider)


def detect_provider(request: Mapping[str, Any]) -> tuple[Provider, str]:
    """``(provider, api)`` from the shape of a request dict .

    Shape first (``contents`` is Gemini, ``input``/``instructions`` is OpenAI responses), then
    the markers and roles that only one API has, then the model id.
    """
    found = spec_for_request(request)
    if found is None:
        raise PromptError("Cannot tell which provider this request is for: expected 'messages' "
                          "(Anthropic or OpenAI chat), 'input' (OpenAI responses) or 'contents' "
                          "(Gemini).", path="<request>")
    return found[0].name, found[1]


def _read_request(request: Mapping[str, Any], *, provider: Provider | None = None) -> CacheView:
    """Read a request dict of any provider into cache positions; raises PromptError if malformed.

    The reading itself is the provider's (``providers/<name>/view.py``, through the registry)."""
    if not isinstance(request, Mapping):
        raise PromptError(f"A request must be a JSON object (dict), got {type(request).__name__}.",
                          path="<request>")
    detected, api = detect_provider(request)
    if provider is not None and provider != detected:
        api = spec_named(provider).default_api(request)
    spec = spec_named(provider or detected)
    model = request.get(spec.model_key)
    if not isinstance(model, str) or not model:
        raise PromptError(f"The request has no {spec.model_key!r} string.", path=spec.model_key)
    view: CacheView = spec.read(request, model, api)
    return view
