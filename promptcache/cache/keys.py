"""Keys for the exact-match response cache: never shared by two calls the API could answer apart.

A key is a BLAKE2b over one canonical JSON text (``json.dumps(sort_keys=True)``) of the namespace,
the endpoint, the client's identity and every request parameter. Mapping keys are sorted, so two
requests that differ only in dict order share a key; anything the API would see differently (a
value, a type, a list order, a header, ``http_options``, the base URL, the API key) gives another.

Secrets never enter the canonical text: the values of credential-like headers, query parameters
and client attributes are replaced by a salted BLAKE2b digest first. The *name* of such a parameter
always stays, and so does the fact that its value differs, so ``x-max-tokens`` or a query
parameter called ``key`` can never make two different calls share an entry.

Large strings (a 4k-token system prompt) would dominate the cost of a key, so their digests are
memoised by value in an LRU bounded by bytes (``STRING_MEMO_BYTES``).
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import json
import operator
import secrets
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from promptcache.redact import is_sensitive_name

__all__ = [
    "STRING_MEMO_BYTES",
    "TRANSPORT_OPTIONS",
    "CachePolicy",
    "ClientIdentity",
    "UnkeyableRequest",
    "client_identity",
    "is_sensitive_name",
    "request_key",
    "sampling_temperature",
    "secret_digest",
]

#: Keyword arguments that change how a request travels, never what the model answers.
TRANSPORT_OPTIONS: Final = frozenset({"timeout", "max_retries", "http_client"})
#: Fields of google-genai ``HttpOptions`` that are transport only (everything else is keyed).
_GENAI_TRANSPORT: Final = frozenset(
    {
        "timeout",
        "retry_options",
        "client_args",
        "async_client_args",
        "httpx_client",
        "httpx_async_client",
        "aiohttp_client",
    }
)
#: Headers the SDKs add themselves that describe the client, not the request.
_CLIENT_NOISE: Final = frozenset({"user-agent", "x-goog-api-client", "content-type"})

_SECRET_SALT: Final = b"promptcache-secret-v1"
_VERSION: Final = "promptcache-response-key-v2"

_BIG_STRING: Final = 256
#: Bytes of large strings (``sys.getsizeof``) the digest memo may keep alive, at most.
STRING_MEMO_BYTES: Final = 32 * 1024 * 1024


def secret_digest(value: object) -> str:
    """A salted BLAKE2b of a secret: tells two secrets apart without storing or revealing either."""
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    return "\x00secret:" + hashlib.blake2b(raw, key=_SECRET_SALT, digest_size=16).hexdigest()


class UnkeyableRequest(Exception):
    """A parameter has a type the encoder cannot make canonical; the call bypasses the cache."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """What a wrapped client caches, and where entries live."""

    namespace: str = "default"
    """Isolates tenants: the namespace is hashed into every key, so entries never cross it."""
    cache_sampling: bool = False
    """Cache requests with an explicit temperature above 0. Off because such a caller asked for
    varied answers; a cache would hand back the same one every time."""
    ttl: float | None = None
    """Seconds an entry lives; ``None`` keeps it until evicted."""


class _DigestMemo:
    """Digests of large strings, keyed by the string, bounded by bytes; thread-safe.

    Keyed by value (not ``id``), so a hit is always correct; CPython caches a str's hash on the
    object, so the lookup for the very same prompt object is O(1). A hit is one lock-free dict
    read (the key path runs on every call), so eviction is first-in first-out rather than LRU: a
    hot prompt evicted by 32 MiB of newer ones costs one rehash. The strings it keeps alive add
    up to at most ``max_bytes`` (as ``sys.getsizeof`` counts them); a string larger than an
    eighth of that is hashed every time instead of evicting everything else.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: dict[str, str] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def digest(self, text: str) -> str:
        found = self._data.get(text)
        if found is not None:
            return found
        raw = text.encode("utf-8", "surrogatepass")
        found = "\x00H" + hashlib.blake2b(raw, digest_size=32).hexdigest()
        size = sys.getsizeof(text)
        if size > self.max_bytes // 8:
            return found
        with self._lock:
            if text not in self._data:
                self._data[text] = found
                self._bytes += size
                while self._bytes > self.max_bytes:
                    evicted = next(iter(self._data))
                    del self._data[evicted]
                    self._bytes -= sys.getsizeof(evicted)
        return found

    @property
    def held_bytes(self) -> int:
        return self._bytes


_memo = _DigestMemo(STRING_MEMO_BYTES)

_OMITTED: Final = frozenset({"NotGiven", "Omit"})
_SCALARS: Final = (int, float, bool, type(None))


def _is_omitted(value: object) -> bool:
    """The SDKs' ``NOT_GIVEN`` / ``omit`` sentinels mean "parameter absent"."""
    return type(value).__name__ in _OMITTED


def _text(value: str) -> str:
    """A large string becomes its memoised digest; a small one stays, escaped if it could be
    mistaken for a digest (both start with NUL only then), so the mapping stays one-to-one."""
    if len(value) > _BIG_STRING:
        return _memo.digest(value)
    if value[:1] == "\x00":
        return "\x00E" + value
    return value


def _shrink(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with large strings replaced by digests.

    The common JSON types are dispatched on their exact type: this runs on every call, and a
    chain of ``isinstance`` checks would cost more than the lookup it keys.
    """
    kind = type(value)
    if kind is str:
        return value if len(value) <= _BIG_STRING and value[:1] != "\x00" else _text(value)
    if kind is dict:
        return _shrink_dict(value)
    if kind is list or kind is tuple:
        return [_shrink(v) for v in value]
    if kind in _SCALARS:
        return value
    return _shrink_other(value)


def _shrink_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    out = {}
    for k, v in value.items():
        t = type(v)
        if t is str:
            out[k] = v if len(v) <= _BIG_STRING and v[:1] != "\x00" else _text(v)
        elif t is int or t is bool or v is None:
            out[k] = v
        elif t is dict:
            out[k] = _shrink_dict(v)
        elif t is list:
            out[k] = [_shrink(x) for x in v]
        elif not _is_omitted(v):
            out[k] = _shrink(v)
    return out


def _shrink_other(value: Any) -> Any:
    """The rarer types: subclasses of the JSON types, enums, bytes, SDK models."""
    if isinstance(value, enum.Enum):
        return _shrink(value.value)
    if isinstance(value, str):
        return _text(str(value))
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return _shrink(dict(value.items()))
    if isinstance(value, list | tuple):
        return [_shrink(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return _text(base64.b64encode(value).decode())  # bytes travel base64-encoded
    if _is_omitted(value):
        # Absent, but inside a structure: we cannot drop it here without a second walk.
        raise UnkeyableRequest("an omitted (NOT_GIVEN) value nested inside a parameter")
    if hasattr(value, "model_dump"):
        # SDK models (an earlier response's content blocks, google-genai configs): their JSON form
        # is what goes on the wire. None fields are unset fields for these models.
        return _shrink(value.model_dump(mode="json", exclude_none=True))
    raise UnkeyableRequest(f"cannot key a parameter of type {type(value).__name__}")


def _redact(params: Any) -> Any:
    """Headers or query parameters with secret values replaced by their digests; names kept."""
    if not isinstance(params, Mapping):
        return params
    return {
        str(k).lower(): secret_digest(v) if is_sensitive_name(str(k)) and v is not None else v
        for k, v in params.items()
        if not _is_omitted(v)
    }


def _genai_http_options(options: Any) -> Any:
    """google-genai ``HttpOptions``: ``base_url``, ``api_version``, ``headers``, ``extra_body``
    change what the API answers and are keyed; timeouts, retries and client objects are not."""
    if hasattr(options, "model_dump"):
        options = options.model_dump(mode="json", exclude_none=True, exclude=set(_GENAI_TRANSPORT))
    if not isinstance(options, Mapping):
        return options
    kept = {k: v for k, v in options.items() if k not in _GENAI_TRANSPORT and v is not None}
    if "headers" in kept:
        kept["headers"] = _redact(kept["headers"])
    return kept


_SPECIAL: Final = frozenset({"extra_headers", "extra_query", "config", "http_options", "stream"})


def _scrub(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop transport options; redact secrets; keep everything that can change the answer."""
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if name not in _SPECIAL:
            if name not in TRANSPORT_OPTIONS and not _is_omitted(value):
                clean[name] = value
            continue
        if _is_omitted(value) or (name == "stream" and not value):
            continue
        if name in ("extra_headers", "extra_query"):
            value = _redact(value)
        elif name == "config" and value is not None:
            if hasattr(value, "model_dump"):
                value = value.model_dump(mode="json", exclude_none=True, exclude={"http_options"}) | (
                    {"http_options": value.http_options} if value.http_options is not None else {}
                )
            if isinstance(value, Mapping) and value.get("http_options") is not None:
                value = dict(value) | {"http_options": _genai_http_options(value["http_options"])}
        elif name == "http_options":
            value = _genai_http_options(value)
        clean[name] = value
    return clean


def _refuse(value: object) -> Any:
    raise TypeError(type(value).__name__)


def _make_dumps() -> Callable[[Any], str]:
    """``json.dumps(sort_keys=True, separators=(",", ":"))`` with its C encoder built once.

    ``JSONEncoder.encode`` rebuilds the encoder on every call, which costs more than encoding
    the few hundred bytes a key hashes. Without a cycle check: a cyclic parameter recurses until
    ``RecursionError``, which makes the call unkeyable.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (PyPy): the stdlib path
        return json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_refuse).encode
    encoder = make(
        None, _refuse, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True
    )

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    return dumps


_dumps = _make_dumps()


#: Parameters ``_scrub`` treats apart (transport options, secrets, google-genai options).
_CAREFUL: Final = _SPECIAL | TRANSPORT_OPTIONS


def _canonical(params: Mapping[str, Any]) -> dict[str, Any]:
    """``_shrink(_scrub(params))`` in one pass: the usual parameters (``model``, ``messages``,
    ``system``...) are shrunk as ``_shrink_dict`` shrinks a value; only the few ``_scrub``
    treats apart go through it."""
    out: dict[str, Any] = {}
    for name, v in params.items():
        if name in _CAREFUL:
            out.update(_shrink_dict(_scrub({name: v})))
            continue
        t = type(v)
        if t is str:
            out[name] = v if len(v) <= _BIG_STRING and v[:1] != "\x00" else _text(v)
        elif t is int or t is bool or v is None:
            out[name] = v
        elif t is list:
            out[name] = [_shrink_dict(x) if type(x) is dict else _shrink(x) for x in v]
        elif t is dict:
            out[name] = _shrink_dict(v)
        elif not _is_omitted(v):
            out[name] = _shrink(v)
    return out


#: ``(namespace, endpoint, identity)`` -> the JSON text that opens their keys' canonical list.
_prefixes: dict[tuple[str, str, str], str] = {}
_MAX_PREFIXES: Final = 4096


def _prefix(namespace: str, endpoint: str, identity: str) -> str:
    """``_dumps([_VERSION, namespace, endpoint, identity, ...])`` up to the parameters: the same
    few clients and endpoints make every call, so the text is encoded once."""
    found = _prefixes.get((namespace, endpoint, identity))
    if found is None:
        if len(_prefixes) >= _MAX_PREFIXES:
            _prefixes.clear()  # a process with thousands of tenants re-encodes: still correct
        found = _dumps([_VERSION, namespace, endpoint, identity])[:-1] + ","
        _prefixes[(namespace, endpoint, identity)] = found
    return found


def request_key(endpoint: str, params: Mapping[str, Any], *, namespace: str, identity: str = "") -> str:
    """The cache key of one call: hex BLAKE2b of namespace, endpoint, client identity and the
    scrubbed parameters.

    ``identity`` is ``client_identity(client)``: the client-level settings that change the answer
    or the tenant. Raises ``UnkeyableRequest`` for a parameter with no canonical form; callers
    then bypass the cache rather than risk two different requests sharing a key. The hashed text
    is ``_dumps([_VERSION, namespace, endpoint, identity, _shrink(_scrub(params))])``, built from
    a cached prefix and the parameters' own JSON.
    """
    try:
        text = _prefix(namespace, endpoint, identity) + _dumps(_canonical(params)) + "]"
    except UnkeyableRequest:
        raise
    except (TypeError, ValueError, AttributeError, RecursionError) as e:
        raise UnkeyableRequest(f"cannot key this request ({e})") from e
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


#: Client attributes that decide the tenant or the answer; secrets among them are digested.
_CLIENT_FIELDS: Final = (
    "api_key",
    "auth_token",
    "organization",
    "project",
    "base_url",
    "aws_region",
    "aws_access_key",
    "aws_secret_key",
    "aws_session_token",
    "aws_profile",
    "region",
    "project_id",
    "access_token",
    "location",
    "vertexai",
    "api_version",
    "admin_api_key",
    "_azure_ad_token",
    "_azure_endpoint",
    "_azure_deployment",
)
#: Client attributes that hold credentials as objects (token providers, google-auth
#: ``Credentials``, workload identities): no value to read, so each is keyed by its identity.
_OPAQUE_FIELDS: Final = (
    "credentials",
    "_credentials",
    "_api_key_provider",
    "_azure_ad_token_provider",
    "workload_identity",
    "_provider",
)
_STABLE: Final = (str, int, float)


class _ObjectTokens:
    """A random token per live object, by identity (never ``==``), for this process only.

    A credentials *object* (a token provider, google-auth ``Credentials``) has no value that
    tells two tenants apart: two providers may compare equal, or print alike, and still fetch
    different tenants' tokens. So each distinct object gets a fresh random token. ``id()`` alone
    would not do: entries outlive the process in SQLite or Redis, where another process's object
    may have the same ``id``; a token from ``secrets`` never matches anything but itself. The
    object is held weakly where it can be (a dead object's ``id`` may be reused: the stored
    reference is checked), else strongly, so its ``id`` is never reused while it is listed.
    """

    def __init__(self) -> None:
        self._tokens: dict[int, tuple[Callable[[], Any], _ObjectToken]] = {}
        self._lock = threading.Lock()

    def token(self, obj: object) -> _ObjectToken:
        key = id(obj)
        found = self._tokens.get(key)
        if found is not None and found[0]() is obj:
            return found[1]
        with self._lock:
            found = self._tokens.get(key)
            if found is not None and found[0]() is obj:
                return found[1]
            token = _ObjectToken(secrets.token_hex(16))
            ref: Callable[[], Any]
            try:
                ref = weakref.ref(obj, functools.partial(self._forget, key))
            except TypeError:  # not weak-referenceable: keep it alive, so its id stays unique
                ref = _Strong(obj)
            self._tokens[key] = (ref, token)
            return token

    def _forget(self, key: int, dead: weakref.ref[Any]) -> None:
        with self._lock:
            found = self._tokens.get(key)
            if found is not None and found[0] is dead:
                del self._tokens[key]


@dataclass(frozen=True, slots=True)
class _ObjectToken:
    """The key of one credentials object (keyed as ``{"object": token}``, never as a string, so
    no setting's value can stand for it)."""

    token: str


class _Strong:
    """A strong reference with the call interface of ``weakref.ref``."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __call__(self) -> object:
        return self.obj


_object_tokens = _ObjectTokens()


def _settle(value: Any) -> Any:
    """A credential attribute that is not a string: a stable value (a number, a URL) as itself,
    an object (a callable ``api_key``, a token provider) as its object token, and a mapping
    (openai's ``workload_identity`` is a dict) by its content, each value settled in turn: a
    dict is mutable, so its identity would keep the old tenant's token after an edit."""
    if value is None or isinstance(value, _STABLE) or type(value).__name__ == "URL":
        return value
    if isinstance(value, Mapping):
        return _Settled(tuple(sorted((str(k), _settle(v)) for k, v in value.items())))
    return _object_tokens.token(value)


@dataclass(frozen=True, slots=True)
class _Settled:
    """A credential mapping as ``(name, settled value)`` pairs, sorted by name."""

    pairs: tuple[tuple[str, Any], ...]

    def plain(self) -> list[Any]:
        """JSON-ready, strings as salted digests (a mapping of credentials holds secrets)."""
        return [[k, v.plain() if isinstance(v, _Settled) else {"object": v.token}
                 if isinstance(v, _ObjectToken) else v if v is None else secret_digest(v)]
                for k, v in self.pairs]


class ClientIdentity:
    """The client-level settings of one client that change the answer or the tenant, digested.

    Default headers (``anthropic-beta``), query parameters, ``base_url``, the OpenAI organization
    and project, google-genai's ``http_options`` and the credentials themselves (salted digests,
    never the secret): two clients that would be answered differently, or that belong to
    different accounts, never share an entry. Sync and async clients of one SDK share entries.
    Credentials that are objects (``credentials=`` token providers, ``azure_ad_token_provider=``,
    a callable ``api_key``, google-auth ``Credentials``) have no value to compare: each object is
    keyed by a random token of its own (``_ObjectTokens``), so such a client shares entries only
    with clients holding the very same object, in this process.

    ``digest()`` runs on every call: it reads the settings (a settings change after
    ``cache_client`` is seen at once) and hashes them only when they changed.
    """

    def __init__(self, client: Any) -> None:
        holder: Any
        if type(client).__module__ == "botocore.client":
            holder = _BotocoreSettings(client)
        else:
            holder = getattr(client, "_api_client", client)  # google-genai keeps them one level down
        self._holder = holder
        self._kind = (type(client).__module__.split(".")[0], type(client).__name__.removeprefix("Async"))
        self._names = tuple(name for name in _CLIENT_FIELDS + _OPAQUE_FIELDS if hasattr(holder, name))
        # Positions (in the attrgetter's tuple) of the attributes that hold credentials.
        self._credentials = tuple(i for i, n in enumerate(self._names, start=1)
                                  if is_sensitive_name(n) or n in _OPAQUE_FIELDS)
        self._fields = operator.attrgetter("__class__", *self._names)
        self._headers = isinstance(getattr(holder, "_custom_headers", None), Mapping)
        self._credential_headers = isinstance(getattr(holder, "_credential_headers", None), Mapping)
        self._query = isinstance(getattr(holder, "_custom_query", None), Mapping)
        self._options = getattr(holder, "_http_options", None) is not None
        # The last settings read and their digest, one tuple: replaced whole, never edited, so
        # a reader on another thread sees a matching pair without a lock.
        self._last: tuple[tuple[Any, ...] | None, str] = (None, "")

    def _read(self) -> tuple[Any, ...]:
        holder = self._holder
        options: Any = None
        if self._options:
            o = holder._http_options
            options = (o.base_url, o.api_version, dict(o.headers or {}), repr(o.extra_body))
        fields = self._fields(holder)
        for i in self._credentials:  # None or a string almost always: one check each
            value = fields[i]
            if value is not None and type(value) is not str:
                fields = (*fields[:i], _settle(value), *fields[i + 1:])
        return (
            fields,
            dict(holder._custom_headers) if self._headers else None,
            dict(holder._custom_query) if self._query else None,
            options,
            dict(holder._credential_headers) if self._credential_headers else None,
        )

    def digest(self) -> str:
        snapshot = self._read()
        last = self._last
        if snapshot == last[0]:
            return last[1]
        digest = self._compute(snapshot)
        self._last = (snapshot, digest)
        return digest

    def _compute(self, snapshot: tuple[Any, ...]) -> str:
        fields, headers, query, options, credential_headers = snapshot
        data: dict[str, Any] = {"sdk": self._kind[0], "client": self._kind[1]}
        for name, value in zip(self._names, fields[1:], strict=True):
            if isinstance(value, _ObjectToken):
                data[name] = {"object": value.token}  # random already: nothing to hide
            elif isinstance(value, _Settled):
                data[name] = {"mapping": value.plain()}
            elif isinstance(value, str | int | float) or type(value).__name__ == "URL":
                data[name] = secret_digest(value) if is_sensitive_name(name) else str(value)
            # else unset, or not a setting (Anthropic's ``organization`` is an API resource)
        labelled = (("headers", headers), ("query", query), ("credential_headers", credential_headers))
        for label, mapping in labelled:
            if mapping:
                data[label] = _plain(mapping)
        if options is not None:
            base_url, api_version, option_headers, extra_body = options
            data["http_options"] = {
                "base_url": base_url,
                "api_version": api_version,
                "headers": _plain(option_headers),
                "extra_body": extra_body,
            }
        return hashlib.blake2b(_dumps(data).encode(), digest_size=16).hexdigest()


class _BotocoreSettings:
    """A boto3 client's settings as the attributes ``ClientIdentity`` reads: ``region``,
    ``base_url`` (the endpoint) and the credentials it signs with, read afresh on each call.

    botocore keeps the credentials on the client's request signer (no public accessor, so each
    read is defensive). Static credentials are keyed by the access key id and a salted digest of
    the secret and the session token; credentials that refresh themselves (an assumed role, SSO,
    instance metadata) can turn into another identity's at any refresh, so such an object is
    keyed by its own identity, as token providers are (``_ObjectTokens``).
    """

    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def region(self) -> Any:
        return getattr(getattr(self._client, "meta", None), "region_name", None)

    @property
    def base_url(self) -> Any:
        return getattr(getattr(self._client, "meta", None), "endpoint_url", None)

    def _signing(self) -> Any:
        signer = getattr(self._client, "_request_signer", None)
        return getattr(signer, "_credentials", None)

    @property
    def credentials(self) -> Any:
        """A refreshing credentials object itself (keyed by identity), else ``None``."""
        found = self._signing()
        return found if found is not None and hasattr(found, "refresh_needed") else None

    @property
    def aws_access_key(self) -> Any:
        found = self._signing()
        if found is None or hasattr(found, "refresh_needed"):
            return None
        return getattr(found, "access_key", None)

    @property
    def aws_secret_key(self) -> Any:
        found = self._signing()
        if found is None or hasattr(found, "refresh_needed"):
            return None
        return getattr(found, "secret_key", None)

    @property
    def aws_session_token(self) -> Any:
        found = self._signing()
        if found is None or hasattr(found, "refresh_needed"):
            return None
        return getattr(found, "token", None)


def _plain(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """Client headers or query parameters, secrets redacted, the SDK's own noise left out."""
    kept = _redact({k: v for k, v in mapping.items() if str(k).lower() not in _CLIENT_NOISE})
    return {k: v if v is None else str(v) for k, v in kept.items()}


def client_identity(client: Any) -> str:
    """``ClientIdentity(client).digest()``: equal for clients that the API answers alike."""
    return ClientIdentity(client).digest()


def sampling_temperature(params: Mapping[str, Any]) -> float | None:
    """The explicit temperature of a request, wherever the SDK puts it; ``None`` if absent.

    Looks at the top-level keyword (OpenAI), ``extra_body`` (Anthropic 2.x has no keyword),
    google-genai's ``config`` and Bedrock Converse's ``inferenceConfig``.
    """
    if "temperature" not in params and "extra_body" not in params and "config" not in params \
            and "inferenceConfig" not in params:
        return None
    for holder in (params, params.get("extra_body"), params.get("config"),
                   params.get("inferenceConfig")):
        if holder is None:
            continue
        value = (
            holder.get("temperature") if isinstance(holder, Mapping) else getattr(holder, "temperature", None)
        )
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
