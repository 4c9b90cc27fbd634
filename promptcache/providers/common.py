"""What one provider will cache for a request, and at what expected cost: :class:`ProviderPlan`.

The optimizer's :class:`~promptcache.plan.Plan` speaks Anthropic (breakpoints on blocks). OpenAI
and Gemini cache the same Prompt differently (a routing key and a retention, explicit breakpoints
on content parts, a ``cachedContents`` resource), and they cannot take every block (thinking is
dropped, for one). A ProviderPlan says all of that in one place, so nothing is dropped or decided
silently. The helpers below are what the OpenAI and Gemini renderers share: the stable prefix,
canonical JSON, re-targeting a Prompt at another provider's model, and :func:`warn_dropped`, the
:class:`~promptcache.errors.DroppedContentWarning` (and log record) that goes with ``dropped``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from promptcache.blocks import Block, Volatility
from promptcache.errors import DroppedContentWarning, MissingDependencyError, PromptError
from promptcache.log import logger
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.redact import redacted_repr

__all__ = [
    "CacheMode",
    "DroppedPolicy",
    "Preview",
    "ProviderPlan",
    "Rendered",
    "canonical",
    "citations_enabled",
    "document_header",
    "field_of",
    "headed",
    "require_installed",
    "retarget",
    "shared_end",
    "stable_end",
    "warn_dropped",
]

#: ``explicit``: breakpoints or a cache resource; ``implicit``: the provider's automatic prefix
#: cache (stable content first); ``none``: nothing can be cached (below the minimum).
CacheMode = Literal["explicit", "implicit", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderPlan:
    """One request's caching, as a provider will see it: what is cached, how, and what it costs."""

    provider: str
    #: The API the request is for: ``messages``, ``chat.completions``, ``responses``,
    #: ``generate_content`` or ``openai-compatible``.
    api: str
    model: str
    mode: CacheMode
    #: Estimated tokens of the prefix the request expects to read from cache once warm.
    cached_prefix_tokens: int
    total_tokens: int
    #: Where the cache boundaries are in the *rendered* request, with their TTL.
    breakpoints: tuple[tuple[str, str], ...] = ()
    #: The caching parameters chosen (``prompt_cache_key``, ``retention``, ``cached_content``...).
    settings: Mapping[str, str] = field(default_factory=dict)
    #: Content of the Prompt the provider cannot take, each with its path: never dropped silently.
    dropped: tuple[str, ...] = ()
    #: Why each decision was made.
    notes: tuple[str, ...] = ()
    #: Expected input cost per request in steady state, in base-price units, and uncached.
    expected_units: float = 0.0
    uncached_units: float = 0.0
    #: The same in US dollars per request (``None`` without a confirmed price), storage included.
    expected_usd: float | None = None
    uncached_usd: float | None = None
    #: The optimizer's plan where one was used (OpenAI GPT-5.6+ explicit breakpoints).
    base: Plan | None = None

    @property
    def savings_ratio(self) -> float:
        return 1 - self.expected_units / self.uncached_units if self.uncached_units else 0.0

    def explain(self) -> str:
        """A plain-text account, for logs and the CLI."""
        lines = [f"{self.provider} {self.api} ({self.model}): {self.mode} caching; "
                 f"~{self.cached_prefix_tokens:,} of ~{self.total_tokens:,} tokens cached when warm"]
        lines.extend(f"  {key} = {value}" for key, value in sorted(self.settings.items()))
        lines.extend(f"  breakpoint {path} ttl={ttl}" for path, ttl in self.breakpoints)
        lines.extend(f"  dropped: {d}" for d in self.dropped)
        lines.extend(f"  note: {n}" for n in self.notes)
        usd = (f" (${self.expected_usd:.6f} vs ${self.uncached_usd:.6f})"
               if self.expected_usd is not None and self.uncached_usd is not None else "")
        lines.append(f"  expected per request: {self.expected_units:,.0f} vs "
                     f"{self.uncached_units:,.0f} token-price units uncached{usd}, "
                     f"{self.savings_ratio:.0%} saved")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """A rendered request: the keyword arguments for the SDK call, and its ProviderPlan."""

    #: Header values and credentials in ``kwargs`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    kwargs: Mapping[str, Any]
    plan: ProviderPlan


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """One request planned for one provider, as ``promptcache plan`` shows it.

    Breakpoint providers (Anthropic, Converse) are planned by the optimizer: ``plan`` holds its
    layers, placements and rejections, ``request`` the rendered keyword arguments (``None`` when
    the request cannot be rendered as it stands). The others plan their own way: ``rendered``.
    """

    #: Header values and credentials in ``request`` are shown as ``<redacted>``.
    __repr__ = redacted_repr

    plan: Plan | None = None
    request: Mapping[str, Any] | None = None
    rendered: Rendered | None = None


#: How deep a tool schema (or tool input) may nest, in JSON levels (an object property is two:
#: ``properties`` and the property). Real schemas stay within a few dozen; a deeper one is
#: generated or cyclic, and would exhaust Python's recursion limit.
MAX_NESTING = 100


def canonical(value: Any, path: str = "value", depth: int = 0) -> Any:
    """``value`` with every dict's keys sorted, recursively; lists keep their order.

    Tool definitions and JSON schemas are part of the cached prefix: two processes that build the
    same schema with keys in another order would otherwise never share a cache entry. Nesting
    deeper than ``MAX_NESTING`` is a PromptError naming ``path`` (where ``value`` sits in the
    request), not a RecursionError.
    """
    if depth > MAX_NESTING:
        raise PromptError(f"{path}: nested more than {MAX_NESTING} JSON levels deep; promptcache "
                          f"renders schemas and tool inputs up to {MAX_NESTING} levels. Flatten the schema "
                          "(a $defs entry and a $ref) or check it for a cycle.", path=path)
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k], path, depth + 1) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(v, path, depth + 1) for v in value]
    return value


def require_turns(prompt: Prompt, api: str, path: str) -> None:
    """A PromptError when ``prompt`` has no turns: every API rejects a request with no messages
    (an empty ``messages``, ``input`` or ``contents``), so it is refused before it is sent, as
    ``render_anthropic`` does."""
    if not prompt.turns:
        raise PromptError(f"The {api} needs at least one message: builder.add_user_turn(...).",
                          path=path)


def stop_list(value: Any) -> list[str] | None:
    """``stop_sequences`` as the list OpenAI's ``stop`` takes; ``None`` (no stop sequences) as
    ``None``, so the parameter is left out; anything but strings is a PromptError.

    ``list(value)`` alone raised TypeError on ``None`` or a number, and split a lone string into
    its characters, each a stop sequence the caller never asked for.
    """
    if value is None:
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise PromptError(f"stop_sequences: must be a list of strings (got {type(value).__name__}); "
                      "the API rejects anything else.", path="stop_sequences")


def field_of(payload: Mapping[str, Any], key: str, path: str, what: str) -> str:
    """``payload[key]`` as a non-empty string, or a PromptError naming ``path.key``.

    A translation needs fields the Anthropic shape leaves to the API to check (a forced tool's
    name, a tool_result's ``tool_use_id``): without them the request is one no provider accepts,
    and a bare KeyError would not say which block is wrong.
    """
    value = payload.get(key)
    if isinstance(value, str) and value:
        return value
    raise PromptError(f"{path}.{key}: {what} needs a non-empty string {key!r} (got "
                      f"{type(value).__name__}); no provider accepts the request without it.",
                      path=f"{path}.{key}")


def document_header(title: Any, context: Any, *, label: str = "Context") -> str:
    """The text header a document's ``title`` and ``context`` become where a provider has no
    field for them ('' when it has neither).

    ``add_documents`` keeps a document's id and metadata in ``context``: a renderer that left it
    out would send the text without saying which document it is.
    """
    lines = []
    if isinstance(title, str) and title.strip():
        lines.append(f"Title: {title}")
    if isinstance(context, str) and context.strip():
        lines.append(f"{label}: {context}")
    return "\n".join(lines)


def headed(header: str, body: str) -> str:
    """``body`` after its ``header`` and a blank line; either alone when the other is empty."""
    return f"{header}\n\n{body}" if header and body else header or body


def citations_enabled(payload: Mapping[str, Any]) -> bool:
    """Whether a document or search_result block asks for cited answers."""
    citations = payload.get("citations")
    return isinstance(citations, Mapping) and bool(citations.get("enabled"))


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys: the one serialisation of tool arguments we send."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stable_end(prompt: Prompt) -> int:
    """One past the last block of the stable prefix: every layer before the conversation or TURN.

    The conversation and per-request content change on every call; what comes before them is what
    a provider can reuse across requests and users.
    """
    end = 0
    for layer in prompt.layers:
        if layer.append_only or layer.volatility is Volatility.TURN:
            break
        end = layer.stop
    return end


def shared_end(prompt: Prompt) -> int:
    """One past the last block of the leading STATIC and DAILY layers: content every user shares.

    The routing key is drawn here rather than at :func:`stable_end`, so that sessions with their
    own documents still land where the shared instructions are cached. Falls back to
    :func:`stable_end` when the prompt has no such layer.
    """
    end = 0
    for layer in prompt.layers:
        if layer.append_only or layer.volatility.rank > Volatility.DAILY.rank:
            break
        end = layer.stop
    return end or stable_end(prompt)


def prefix_key(prompt: Prompt, stop: int, prefix: str = "pc-") -> str | None:
    """A short stable id of ``prompt.blocks[:stop]`` (its fingerprint), or None if empty."""
    if stop <= 0:
        return None
    return prefix + prompt.fingerprints[stop - 1][:32]


def retarget(prompt: Prompt, model: str, blocks: Sequence[Block] | None = None) -> Prompt:
    """``prompt`` for another model (and optionally with re-annotated blocks): same layers and turns."""
    return Prompt(model=model, blocks=tuple(blocks if blocks is not None else prompt.blocks),
                  layers=prompt.layers, turns=prompt.turns, params=prompt.params, platform="api")


def with_marking(block: Block, *, unmarkable: str | None = None,
                 user_ttl: str | Literal["keep"] | None = "keep") -> Block:
    """A copy of ``block`` with its marker TTL or markability changed (Blocks are frozen)."""
    changes: dict[str, Any] = {}
    if unmarkable is not None:
        changes["unmarkable"] = unmarkable
    if user_ttl != "keep":
        changes["user_ttl"] = user_ttl
    return replace(block, **changes)


def require_installed(module: str, missing: str) -> None:
    """Raise :class:`MissingDependencyError` with ``missing`` unless ``module`` is installed,
    without importing it.

    A renderer writes plain keyword arguments and runs no SDK code: it only has to be sure the
    call can be made. Importing the openai SDK or google-genai takes most of a second (most of
    ``promptcache plan`` on such a request, ``benchmarks/bench_cli.py``); finding it, a millisecond.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or not a package
        found = False
    if not found:
        raise MissingDependencyError(missing)


#: What a renderer does when it drops content (``plan.dropped`` lists it whatever the policy):
#:
#: - ``"warn"`` (the default, for a caller who sends the request it gets back): a
#:   :class:`~promptcache.errors.DroppedContentWarning` on each render that drops anything,
#:   through the standard ``warnings`` filters: the default filter shows a message once per
#:   calling line, and ``-W error`` makes the render raise (a strict mode for tests).
#: - ``"once"`` (for promptcache's own callers that send the request inside a call the user
#:   made, such as a chat session): once per process for each provider API and kind of loss, and
#:   never raised, even under ``-W error``, so it can neither fail the call nor repeat each turn.
#: - ``"off"``: neither warning nor record, where nothing is lost: ``wrap()`` sends the caller's
#:   own request (the plan only models it), ``promptcache plan`` prints every entry itself.
DroppedPolicy = Literal["warn", "once", "off"]

#: How many entries a warning's message lists; ``DroppedContentWarning.dropped`` has them all.
_LISTED = 5
_INDEX = re.compile(r"\[\d+\]")
#: (provider, api, kind) already logged, and already warned about under ``"once"``.
_LOGGED: set[tuple[str, str, str]] = set()
_WARNED: set[tuple[str, str, str]] = set()
_SEEN_LOCK = threading.Lock()
#: Bounds the sets: kinds are few (block types, parameters), but a parameter name is the caller's.
_KEPT_KINDS = 1_024


def dropped_kind(entry: str) -> str:
    """What kind of loss a ``dropped`` entry is: the entry with its list indices blanked.

    ``messages[3].content[0]: thinking block dropped ...`` and the same at ``messages[5]`` are
    one kind; a thinking block and a citations switch, or two parameters, are two.
    """
    return _INDEX.sub("[]", entry)


def _first(seen: set[tuple[str, str, str]], keys: set[tuple[str, str, str]]) -> bool:
    """Record ``keys`` in ``seen``; True if any was new."""
    with _SEEN_LOCK:
        new = keys - seen
        if len(seen) + len(new) > _KEPT_KINDS:
            seen.clear()  # a process that saw a thousand kinds may hear of one again
        seen.update(keys)
    return bool(new)


def warn_dropped(plan: ProviderPlan, policy: DroppedPolicy = "warn", *, stacklevel: int = 2) -> None:
    """Tell the caller that ``plan``'s request leaves content out: a warning and a log record.

    Does nothing when ``plan.dropped`` is empty. The WARNING record on the ``promptcache``
    logger (``promptcache_cause="dropped-content"``, the entries in ``promptcache_dropped``) is
    logged once per process for each provider API and kind of loss (:func:`dropped_kind`), since
    a log, unlike the warnings filters, has no memory of its own; the warning follows ``policy``.
    ``stacklevel`` counts from the caller of this function, as :func:`warnings.warn`'s does.
    """
    if not plan.dropped or policy == "off":
        return
    keys = {(plan.provider, plan.api, dropped_kind(d)) for d in plan.dropped}
    listed = "; ".join(plan.dropped[:_LISTED])
    more = len(plan.dropped) - _LISTED
    message = (f"The {plan.provider} {plan.api} request for {plan.model} leaves out "
               f"{len(plan.dropped)} piece(s) of the prompt the provider has no form for: {listed}"
               + (f"; and {more} more" if more > 0 else "") + ". rendered.plan.dropped lists each"
               + ("; pass on_dropped='off' to the renderer once you have checked that they do "
                  "not matter." if policy == "warn" else "."))
    if _first(_LOGGED, keys):
        logger.warning(message, extra={"promptcache_cause": "dropped-content",
                                       "promptcache_dropped": list(plan.dropped)})
    warning = DroppedContentWarning(message, provider=plan.provider, api=plan.api,
                                    dropped=plan.dropped)
    if policy == "warn":
        warnings.warn(warning, stacklevel=stacklevel + 1)
    elif _first(_WARNED, keys):
        # Under ``-W error`` a warning is an exception: it must not fail the call it describes.
        with contextlib.suppress(DroppedContentWarning):
            warnings.warn(warning, stacklevel=stacklevel + 1)
