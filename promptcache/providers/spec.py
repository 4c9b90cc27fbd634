"""The shape of a provider's registry entry (:class:`ProviderSpec`); the entries themselves live in
``providers/<name>/spec.py`` and are collected by :mod:`promptcache.providers.registry`."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from promptcache.limits import Platform, Provider

if TYPE_CHECKING:
    from promptcache.positions import CacheView

__all__ = ["ProviderSpec", "Ref", "SdkMethod"]


@functools.cache
def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, slots=True)
class Ref:
    """``"package.module:attribute"``, imported on first :meth:`load`: a spec can name the
    drop-in planner or the simulator without importing them (no cycle, a light import)."""

    target: str

    def load(self) -> Any:
        return _load(self.target)


@dataclass(frozen=True, slots=True, kw_only=True)
class SdkMethod:
    """One SDK method promptcache patches: the drop-in wrapper plans it, and, when
    ``cached_as`` is set, the response cache serves it."""

    path: str
    """``resource.path.method`` from the client (or from each of :attr:`ProviderSpec.holders`)."""
    prepare: Ref
    """The drop-in planner: ``(kwargs, WrapHandle) -> Prepared``."""
    kind: Literal["create", "stream", "manager", "helper"] = "create"
    """How the drop-in wrapper calls it (see ``dropin._core.WrappedMethod``)."""
    optional: bool = False
    """Patched only where the client has it (older SDKs, platform clients)."""
    cached_as: str | None = None
    """The response cache's endpoint name (hashed into its keys); ``None``: not cached."""
    response_type: Ref | None = None
    """The SDK model of a complete response, for the response cache."""
    event_type: Ref | None = None
    """The SDK type of one stream event, for the response cache."""
    streaming: Literal["kwarg", "always", "never"] = "kwarg"
    """``kwarg``: ``stream=True`` asks for a stream; ``always``: the method always streams."""
    exclude: frozenset[str] = frozenset()
    """Response fields that describe the transport (HTTP headers), not the answer."""
    json_mode: bool = False
    """The response cache validates stored JSON text directly (bytes fields travel base64)."""
    stream_key: str | None = None
    """The method returns a dict whose ``stream_key`` holds the stream (boto3's
    ``converse_stream``): the wrapper reads that value, not the dict."""
    plain: bool = False
    """The SDK answers with plain dicts (boto3): the response cache stores their JSON (bytes
    tagged base64) and serves dicts, with no SDK type to rebuild."""
    served_with: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Fields a response served from the cache carries in place of the excluded (:attr:`exclude`)
    transport ones (boto3's ``ResponseMetadata``: an HTTP 200 with no headers)."""

    @property
    def resource(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def method(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def name(self) -> str:
        """The name warnings use: the path from the client (``messages.create``)."""
        return self.path


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSpec:
    """Everything the rest of the package asks about one provider."""

    name: Provider
    recognises_client: Callable[[Any], bool]
    """True for this provider's SDK clients (sync, async and platform ones)."""
    platform_of: Callable[[Any], Platform]
    """The platform a recognised client reaches the models through."""
    request_api: Callable[[Mapping[str, Any]], str | None]
    """The API a request dict is for, or ``None`` when its shape is not this provider's."""
    default_api: Callable[[Mapping[str, Any]], str]
    """The API to read a request as when the caller names this provider."""
    request_rank: int
    """Order :func:`spec_for_request` asks in (the most specific shape first)."""
    response_packages: frozenset[str]
    """Top-level packages whose objects are this provider's responses."""
    claims_response: Callable[[Mapping[str, Any]], bool]
    """True when a response dict carries fields only this provider uses."""
    response_rank: int
    """Order :func:`spec_for_response` asks dicts in."""
    read_request: Ref
    """``(request, model, api) -> CacheView``: the request as the provider's cache sees it."""
    render: Ref
    """``render_<name>(prompt, plan, ...)``: a Prompt and Plan as the SDK's keyword arguments."""
    parse_usage: Ref
    """``(response, *, model) -> Usage``."""
    simulator: Ref
    """The offline simulator of the provider's cache rules."""
    server: Ref
    """The loopback server the real SDK client talks to in tests."""
    session_adapter: Ref
    """``(client, *, asynchronous, api, clock) -> Wire``: the ChatSession adapter."""
    methods: tuple[SdkMethod, ...]
    """The SDK methods patched, in patch order."""
    holders: tuple[str, ...] = ("",)
    """Attributes of the client whose resources are patched (``""``: the client itself)."""
    async_attribute: bool = False
    """One client for both: async calls go through an attribute (``client.aio``)."""
    session_apis: tuple[str, ...] = ()
    """Values of ``ChatSession(api=...)`` this provider takes (none: ``api`` is refused)."""
    model_key: str = "model"
    """The request field that names the model (Converse: ``modelId``)."""
    plans_memo: bool = False
    """The drop-in wrapper keeps a prompt memo for this provider's clients."""
    read_prompt: Ref | None = None
    """``(request, api) -> Prompt``: a request dict of this provider as a Prompt (the CLI's
    ``plan``); ``None``: the provider's requests cannot be planned from a file."""
    preview: Ref | None = None
    """``(prompt, *, model, api, automatic) -> Preview``: a Prompt planned and rendered for this
    provider, what ``promptcache plan`` prints; ``None``: not a ``--provider`` choice."""
    strip_markers: Ref | None = None
    """``(request) -> request``: the request without the caller's cache markers, for
    ``promptcache plan --ignore-markers`` (``None``: its markers are ``cache_control`` keys)."""
    stream_usage: Ref | None = None
    """``(model) -> accumulator`` (``feed(event)``, ``usage()``) for streams whose usage is not
    an item's ``usage`` attribute (Converse's ``metadata`` event); ``None``: the wrapper's own."""

    def is_async(self, client: Any) -> bool:
        """Whether ``client`` is its SDK's async client (never, with :attr:`async_attribute`)."""
        return not self.async_attribute and type(client).__name__.startswith("Async")

    def read(self, request: Mapping[str, Any], model: str, api: str) -> CacheView:
        reader: Callable[[Mapping[str, Any], str, str], CacheView] = self.read_request.load()
        return reader(request, model, api)

    def targets(self, client: Any, *, cached: bool = False) -> Iterator[tuple[Any, SdkMethod]]:
        """(resource object, method) for each of :attr:`methods` ``client`` has, in patch order;
        ``cached``: only those the response cache serves."""
        for holder_name in self.holders:
            holder = client if not holder_name else getattr(client, holder_name, None)
            if holder is None:
                continue
            for method in self.methods:
                if cached and method.cached_as is None:
                    continue
                resource = holder
                # A method on the client itself (boto3's ``converse``) has no resource path.
                for attribute in filter(None, method.resource.split(".")):
                    resource = getattr(resource, attribute, None) if method.optional \
                        else getattr(resource, attribute)
                if method.optional and (resource is None
                                        or not callable(getattr(resource, method.method, None))):
                    continue
                yield resource, method
