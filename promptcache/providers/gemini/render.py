"""Gemini adapter: one Prompt rendered for ``client.models.generate_content``, with or without a cache.

Gemini has two caches. Implicit caching is automatic (2.5 and later) and needs only that the
stable content comes first, which the Prompt's layer order already gives. Explicit caching is a
``cachedContents`` resource holding the stable prefix (system instruction, tools, tool config,
leading contents), referenced by name, billed at a reduced read price plus storage per token-hour.
:func:`decide` says which to use from the break-even; :func:`split` cuts the Prompt where the
cache ends, because a request that names a cache must not also carry system_instruction, tools or
tool_config (HTTP 400). The lifecycle (create, find, extend, delete) is in ``gemini_cache``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from promptcache.errors import MissingDependencyError, PromptError
from promptcache.limits import TTL_SECONDS, ModelLimits, limits_for
from promptcache.optimizer import DEFAULT_MARGIN
from promptcache.prompt import Prompt
from promptcache.providers.common import (
    CacheMode,
    DroppedPolicy,
    Preview,
    ProviderPlan,
    Rendered,
    canonical,
    citations_enabled,
    document_header,
    field_of,
    headed,
    require_installed,
    require_turns,
    retarget,
    stable_end,
    stop_list,
    warn_dropped,
)
from promptcache.providers.gemini.tokens import declaration_tokens, part_tokens, role_tokens
from promptcache.providers.openai.messages import translate

__all__ = [
    "CacheDecision",
    "CachedPrefix",
    "GeminiSplit",
    "decide",
    "preview_gemini",
    "render_gemini",
    "render_gemini_openai_compatible",
    "require_sdk",
    "split",
]

#: Default bounds of an explicit cache's TTL: long enough to be reused, short enough not to idle.
MIN_TTL, MAX_TTL = 300.0, 3_600.0
#: Assumed idle lifetime of an implicit cache entry (undocumented; the simulator's default).
IMPLICIT_WINDOW = 300.0


#: What to install when google-genai is missing.
_MISSING = 'The Gemini adapter needs google-genai: pip install "promptcache" (or google-genai>=3.4).'


def require_sdk() -> Any:
    """The ``google.genai`` module, or :class:`MissingDependencyError` naming what to install."""
    try:
        from google import genai
    except ImportError as e:  # pragma: no cover - google-genai is a dependency of promptcache
        raise MissingDependencyError(_MISSING) from e
    return genai



@dataclass(frozen=True, slots=True, kw_only=True)
class GeminiSplit:
    """A Prompt cut where an explicit cache would end: what the cache holds, what each request sends."""

    #: ``CreateCachedContentConfig`` fields: system_instruction, tools, tool_config, contents.
    cached: Mapping[str, Any]
    #: The request's contents after the cached prefix (uncached system parts first, as user text).
    contents: tuple[Mapping[str, Any], ...]
    #: Generation config fields (max_output_tokens, temperature, ...), never cacheable.
    generation: Mapping[str, Any]
    #: Blocks ``[0, stop)`` and turns ``[0, turns)`` are in the cache.
    stop: int
    turns: int
    #: Tokens of the cached prefix and of the whole request, as Gemini bills the rendered parts.
    tokens: int
    total_tokens: int
    #: Fingerprint of the cached prefix: the same prefix gives the same id in every process.
    fingerprint: str
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedPrefix:
    """A live ``cachedContents`` resource a request can reference."""

    name: str
    model: str
    display_name: str
    #: Expiry, in the manager's clock's seconds.
    expires: float
    tokens: int
    #: True when this process created it (and so may delete it when done).
    owned: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheDecision:
    """Explicit cache or implicit caching for a prefix, from the break-even, with the numbers."""

    explicit: bool
    tokens: int
    ttl_seconds: float
    #: Requests expected to read the prefix while the cache lives.
    uses_within_ttl: float
    storage_usd: float | None
    savings_usd: float | None
    reason: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ttl(self) -> str:
        """The TTL in the API's duration format (``"1800s"``)."""
        return f"{int(self.ttl_seconds)}s"


def _parts(payload: Mapping[str, Any], path: str, names: Mapping[str, str],
           dropped: list[str]) -> list[dict[str, Any]]:
    """One Anthropic block as Gemini parts ([] when it has none, reported in ``dropped``).

    A document's ``title`` and ``context`` (``add_documents``' id and metadata) become a text
    header before its content, search results text with their title and source: Gemini has
    fields for neither. Citations have no Gemini form at all, and are reported.
    """
    kind = payload.get("type")
    if kind == "text":
        if payload.get("citations"):
            dropped.append(f"{path}: citations on text not sent (Gemini has no citation "
                           "objects); the text is sent without them")
        return [{"text": str(payload["text"])}]
    if kind in ("image", "document"):
        media = _media(payload, kind, path, dropped)
        if media is not None:
            if kind == "document" and citations_enabled(payload):
                dropped.append(f"{path}: citations.enabled not sent (Gemini has no cited answers); "
                               "the document is sent without them")
            header = document_header(payload.get("title"), payload.get("context")) \
                if kind == "document" else ""
            if header and "text" in media:
                return [{"text": headed(header, str(media["text"]))}]
            return [{"text": header}, media] if header else [media]
    if kind == "search_result":
        text, lost = _texts(payload.get("content"))
        if lost:
            dropped.append(f"{path}: search_result sub-blocks {', '.join(lost)} have no Gemini "
                           "equivalent; sent its text only")
        if citations_enabled(payload):
            dropped.append(f"{path}: citations.enabled not sent (Gemini has no cited answers); "
                           "the result is sent as text without them")
        header = document_header(payload.get("title"), payload.get("source"), label="Source")
        return [{"text": headed(header, text)}]
    if kind == "tool_use":
        return [{"function_call": {"id": field_of(payload, "id", path, "a tool_use block"),
                                   "name": field_of(payload, "name", path, "a tool_use block"),
                                   "args": canonical(payload.get("input") or {}, f"{path}.input")}}]
    if kind == "tool_result":
        return [_function_response(payload, path, names, dropped)]
    if kind in ("thinking", "redacted_thinking"):
        dropped.append(f"{path}: {kind} block dropped (Gemini cannot take another model's reasoning)")
        return []
    dropped.append(f"{path}: a {kind} block has no Gemini equivalent")
    return []


def _texts(content: Any) -> tuple[str, list[str]]:
    """The text of a list of content blocks, and the kinds of the sub-blocks that are not text."""
    if isinstance(content, str):
        return content, []
    texts, lost = [], []
    for sub in content if isinstance(content, list | tuple) else ():
        if isinstance(sub, Mapping) and sub.get("type") == "text":
            texts.append(str(sub.get("text", "")))
        else:
            lost.append(str(sub.get("type") if isinstance(sub, Mapping) else type(sub).__name__))
    return "\n".join(texts), lost


def _media(payload: Mapping[str, Any], kind: str, path: str,
           dropped: list[str]) -> dict[str, Any] | None:
    """An image's or a document's source as one part (inline data, a file URI or text)."""
    source = payload.get("source")
    source = source if isinstance(source, Mapping) else {}
    if source.get("type") == "base64":
        return {"inline_data": {"mime_type": source.get("media_type"), "data": source.get("data")}}
    if source.get("type") == "url":
        mime = "application/pdf" if kind == "document" else "image/jpeg"
        return {"file_data": {"file_uri": source.get("url"), "mime_type": mime}}
    if source.get("type") == "text":
        return {"text": str(source.get("data", ""))}
    if source.get("type") == "content" and kind == "document":
        text, lost = _texts(source.get("content"))
        if lost:
            dropped.append(f"{path}: document content sub-blocks {', '.join(lost)} have no Gemini "
                           "equivalent; sent its text only")
        return {"text": text}
    return None


def _function_response(payload: Mapping[str, Any], path: str, names: Mapping[str, str],
                       dropped: list[str]) -> dict[str, Any]:
    """A tool_result as a ``function_response``: its text as the response, its images as parts.

    Images and PDFs go in ``function_response.parts`` (the SDK's multimodal function response);
    any other sub-block is reported in ``dropped``, never left out without a word.
    """
    call_id = field_of(payload, "tool_use_id", path, "a tool_result block")
    content = payload.get("content")
    texts: list[str] = [content] if isinstance(content, str) else []
    media: list[dict[str, Any]] = []
    for k, sub in enumerate(content if isinstance(content, list | tuple) else ()):
        kind = sub.get("type") if isinstance(sub, Mapping) else type(sub).__name__
        where = f"{path}.content[{k}]"
        if isinstance(sub, Mapping) and kind == "text":
            texts.append(str(sub.get("text", "")))
            continue
        if not (isinstance(sub, Mapping) and kind in ("image", "document", "search_result")):
            dropped.append(f"{where}: a {kind} block has no Gemini equivalent inside a function "
                           "response")
            continue
        for part in _parts(sub, where, names, dropped):
            if "inline_data" in part or "file_data" in part:
                media.append(part)
            else:
                texts.append(str(part.get("text", "")))
    key = "error" if payload.get("is_error") else "output"
    response: dict[str, Any] = {"id": call_id, "name": names.get(call_id, "tool"),
                                "response": {key: "\n".join(texts)}}
    if media:
        response["parts"] = media
    return {"function_response": response}


def _generation(prompt: Prompt, dropped: list[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    config: dict[str, Any] = {}
    tool_config: dict[str, Any] | None = None
    for name, value in prompt.params.items():
        if name == "max_tokens":
            config["max_output_tokens"] = value
        elif name in ("temperature", "top_p", "top_k", "stop_sequences"):
            config[name] = value
        elif name == "extra_headers" and isinstance(value, Mapping):
            config.setdefault("http_options", {})["headers"] = dict(value)
        elif name == "timeout" and isinstance(value, int | float) and value > 0:
            # The Anthropic and OpenAI SDKs take seconds, google-genai milliseconds.
            config.setdefault("http_options", {})["timeout"] = int(value * 1000)
        elif name == "tool_choice" and isinstance(value, Mapping):
            kind = value.get("type")
            if kind not in ("auto", "any", "tool", "none"):
                raise PromptError(f"tool_choice.type: {kind!r} is not one of 'auto', 'any', "
                                  "'tool', 'none'; the API rejects the request.",
                                  path="tool_choice.type")
            fcc: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(str(kind), "ANY")}
            if kind == "tool":
                fcc["allowed_function_names"] = [
                    field_of(value, "name", "tool_choice", "tool_choice of type 'tool'")]
            tool_config = {"function_calling_config": fcc}
            if value.get("disable_parallel_tool_use"):
                dropped.append("tool_choice.disable_parallel_tool_use: not sent (Gemini has no "
                               "switch for parallel function calls)")
        else:
            dropped.append(f"{name}: not sent (no Gemini equivalent of the Anthropic parameter)")
    return config, tool_config


def split(prompt: Prompt, *, model: str, cache_turns: int = 0) -> GeminiSplit:
    """Cut ``prompt`` after its stable layers (and ``cache_turns`` leading turns) for Gemini."""
    if not 0 <= cache_turns <= max(0, len(prompt.turns) - 1):
        raise PromptError(f"cache_turns={cache_turns}: the last turn is the request itself and "
                          f"cannot be cached; use 0..{max(0, len(prompt.turns) - 1)}.",
                          path="cache_turns")
    target = retarget(prompt, model)
    dropped: list[str] = []
    names = {str(b.payload.get("id")): str(b.payload.get("name")) for b in target.blocks
             if b.payload.get("type") == "tool_use"}
    end = stable_end(target)
    declarations = []
    # Tokens of each block as Gemini bills its rendered parts (see providers/gemini/tokens.py).
    billed = [0] * len(target.blocks)
    for k, b in sorted(((k, b) for k, b in enumerate(target.blocks) if b.section == "tools"),
                       key=lambda kb: str(kb[1].payload["name"])):
        if b.payload.get("input_schema") is None:
            dropped.append(f"{b.path}: server tool {b.payload.get('type')!r} has no Gemini equivalent")
            continue
        decl: dict[str, Any] = {"name": b.payload["name"]}
        if b.payload.get("description"):
            decl["description"] = b.payload["description"]
        decl["parameters_json_schema"] = canonical(b.payload["input_schema"],
                                                   f"{b.path}.input_schema")
        declarations.append(decl)
        billed[k] = declaration_tokens(decl)
    for k, b in enumerate(target.blocks):
        if b.section == "system":
            billed[k] = part_tokens({"text": str(b.payload["text"])}, b.tokens)
    system = [{"text": str(b.payload["text"])} for i, b in enumerate(target.blocks)
              if b.section == "system" and i < end]
    loose = [{"text": str(b.payload["text"])} for i, b in enumerate(target.blocks)
             if b.section == "system" and i >= end]
    contents: list[dict[str, Any]] = []
    for turn in target.turns:
        role = "model" if turn.role == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        for i in range(turn.start, turn.stop):
            block = target.blocks[i]
            mine = _parts(block.payload, block.path, names, dropped)
            billed[i] = sum(part_tokens(p, block.tokens) for p in mine)
            if mine and not parts:
                billed[i] += role_tokens(role)
            parts.extend(mine)
        if parts:
            contents.append({"role": role, "parts": parts})
    generation, tool_config = _generation(target, dropped)
    cached: dict[str, Any] = {}
    if system:
        cached["system_instruction"] = {"parts": system}
    if declarations:
        cached["tools"] = [{"function_declarations": declarations}]
    if tool_config is not None:
        cached["tool_config"] = tool_config
    if cache_turns:
        cached["contents"] = contents[:cache_turns]
    rest = contents[cache_turns:]
    # Gemini has no per-block markers: a hand-set one is said to be left out, never just lost.
    notes = [f"{b.path}: cache_control ({b.user_ttl}) not sent: Gemini caches a prefix "
             "implicitly or through a cachedContents resource, not at marked blocks"
             for b in target.blocks if b.user_ttl is not None]
    if loose:
        rest.insert(0, {"role": "user", "parts": loose})
        notes.append(f"{len(loose)} per-request system part(s) sent as leading user content: "
                     "a request that uses a cache cannot carry system_instruction")
    stop = target.turns[cache_turns - 1].stop if cache_turns else end
    tokens = sum(billed[:stop])
    # surrogatepass: a lone surrogate in user text must not make planning fail (the digest is ours).
    digest = hashlib.blake2b(f"{model}\x00{_stable_json(cached)}".encode("utf-8", "surrogatepass"),
                             digest_size=16).hexdigest()
    return GeminiSplit(cached=cached, contents=tuple(rest), generation=generation, stop=stop,
                       turns=cache_turns, tokens=tokens, total_tokens=sum(billed),
                       fingerprint=digest,
                       dropped=tuple(dropped), notes=tuple(notes))


def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _prefix_reuse(prompt: Prompt, stop: int) -> tuple[float, float]:
    """(expected uses, typical interval) of the prefix ``blocks[:stop]``: change rates add up."""
    layers = [layer for layer in prompt.layers if layer.start < stop]
    if not layers:
        return 1.0, 60.0
    rate = sum(1.0 / layer.reuse.uses for layer in layers)
    interval = max(layer.reuse.interval for layer in layers)
    return max(1.0, 1.0 / min(1.0, rate)), interval


def decide(prompt: Prompt, *, model: str, cache_turns: int = 0, ttl: float | None = None,
           limits: ModelLimits | None = None, force: bool | None = None,
           margin: float = DEFAULT_MARGIN) -> CacheDecision:
    """Explicit cache or implicit caching for ``prompt``'s stable prefix on ``model``.

    Explicit pays when storage ($/MTok/hour x tokens x TTL hours) costs less than what the cache
    saves on reads ((input - cached price) x tokens x expected uses within the TTL), and the
    prefix clears the model's minimum (with our tokenizer's safety ``margin``). ``force`` overrides
    the break-even (not the minimum: the API rejects a cache below it).
    """
    lim = limits if limits is not None else limits_for(model, provider="gemini")
    cut = split(prompt, model=model, cache_turns=cache_turns)
    uses, interval = _prefix_reuse(prompt, cut.stop)
    ttl_s = ttl if ttl is not None else min(MAX_TTL, max(MIN_TTL, uses * interval))
    within = max(1.0, min(uses, ttl_s / interval))
    minimum = lim.min_cacheable_tokens

    def decision(explicit: bool, storage: float | None, saving: float | None,
                 reason: str) -> CacheDecision:
        return CacheDecision(explicit=explicit, tokens=cut.tokens, ttl_seconds=ttl_s,
                             uses_within_ttl=within, storage_usd=storage, savings_usd=saving,
                             reason=reason)

    if cut.tokens < minimum * (1 + margin):
        return decision(False, None, None,
                        reason=f"the stable prefix (~{cut.tokens:,} tokens) is below or within "
                                    f"{margin:.0%} of {lim.model}'s {minimum:,}-token minimum for a "
                                    "cache: implicit caching only")
    if lim.input_price is None or lim.storage_price_per_mtok_hour is None:
        explicit = bool(force)
        return decision(explicit, None, None,
                        reason=f"{lim.model} has no confirmed cache prices, so the break-even "
                                    "cannot be computed: " + ("explicit cache as forced" if explicit
                                                              else "implicit caching (pass force=True "
                                                                   "to create a cache anyway)"))
    mtok = cut.tokens / 1e6
    storage = lim.storage_price_per_mtok_hour * mtok * ttl_s / 3_600
    saving = lim.input_price * (1 - lim.cache_read_multiplier) * mtok * within
    pays = saving > storage
    explicit = pays if force is None else force
    verdict = "explicit cache" if explicit else "implicit caching"
    return decision(
        explicit, storage, saving,
        reason=(f"storage ${storage:.6f} for {ttl_s / 60:.0f} min vs read savings ${saving:.6f} over "
                f"~{within:,.1f} uses within the TTL: {'pays' if pays else 'does not pay'}; {verdict}"
                + ("" if force is None else " (forced)")),
    )


def _plan(prompt: Prompt, model: str, api: str, cut: GeminiSplit, decision: CacheDecision | None,
          cache: CachedPrefix | None, lim: ModelLimits) -> ProviderPlan:
    total = cut.total_tokens
    read = lim.cache_read_multiplier
    notes = list(cut.notes)
    settings: dict[str, str] = {}
    mode: CacheMode
    if cache is not None:
        mode, cached = "explicit", cut.tokens
        settings.update(cached_content=cache.name, display_name=cache.display_name)
        storage_units = 0.0
        if decision is not None and lim.input_price and decision.storage_usd is not None:
            settings["ttl"] = decision.ttl
            storage_units = decision.storage_usd / (lim.input_price / 1e6) / decision.uses_within_ttl
        units = cached * read + (total - cached) + storage_units
    else:
        _, interval = _prefix_reuse(prompt, cut.stop)
        q = 1.0 if interval <= IMPLICIT_WINDOW else 0.0
        cached = cut.tokens if cut.tokens >= lim.min_cacheable_tokens else 0
        mode = "implicit" if cached else "none"
        units = cached * (q * read + (1 - q)) + (total - cached)
        notes.append("no explicit cache: relying on implicit caching, stable content first"
                     if cached else f"prefix below {lim.model}'s {lim.min_cacheable_tokens:,}-token "
                                    "minimum: nothing will be cached")
    if decision is not None:
        notes.insert(0, decision.reason)
    price = lim.input_price / 1e6 if lim.input_price is not None else None
    return ProviderPlan(provider="gemini", api=api, model=model, mode=mode,
                        cached_prefix_tokens=cached, total_tokens=total, settings=settings,
                        dropped=cut.dropped, notes=tuple(notes), expected_units=units,
                        uncached_units=float(total),
                        expected_usd=units * price if price is not None else None,
                        uncached_usd=total * price if price is not None else None)


def render_gemini(prompt: Prompt, *, model: str, cache: CachedPrefix | None = None,
                            cache_turns: int = 0, decision: CacheDecision | None = None,
                            limits: ModelLimits | None = None, check: bool = True,
                            on_dropped: DroppedPolicy = "warn") -> Rendered:
    """Keyword arguments for ``client.models.generate_content(**rendered.kwargs)``, and the plan.

    With ``cache``, the request carries ``cached_content`` and only what follows the cached prefix;
    without, it carries everything, stable content first, for implicit caching. The config is
    checked with google-genai's own ``GenerateContentConfig`` (a :class:`PromptError` naming the
    field it refuses); ``check=False`` skips that, and with it the SDK import (most of a second),
    for a preview that sends nothing. Content with no Gemini form is listed in ``plan.dropped``
    and, by default, told in a :class:`~promptcache.errors.DroppedContentWarning`
    (``on_dropped``: see :data:`~promptcache.providers.common.DroppedPolicy`).
    """
    require_installed("google.genai", _MISSING)
    require_turns(prompt, "generate_content API", "contents")
    lim = limits if limits is not None else limits_for(model, provider="gemini")
    cut = split(prompt, model=model, cache_turns=cache_turns if cache is not None else 0)
    config: dict[str, Any] = {}
    if cache is not None:
        config["cached_content"] = cache.name
    else:
        config.update({k: v for k, v in cut.cached.items() if k != "contents"})
    config.update(cut.generation)
    contents = [*(cut.cached.get("contents") or ()), *cut.contents] if cache is None else list(cut.contents)
    kwargs: dict[str, Any] = {"model": model, "contents": contents}
    if config:
        if check:
            _check_config(config)
        kwargs["config"] = config
    rendered = Rendered(kwargs=kwargs, plan=_plan(prompt, model, "generate_content", cut,
                                                  decision, cache, lim))
    warn_dropped(rendered.plan, on_dropped)
    return rendered


def _check_config(config: Mapping[str, Any]) -> None:
    """Refuse a config google-genai would refuse, naming the field, before anything is sent.

    The SDK validates ``GenerateContentConfig`` while building the call and raises a pydantic
    ``ValidationError``; a parameter or tool the user gave in a shape Gemini does not take (a
    description that is a list, say) is bad input, so it surfaces as a :class:`PromptError`.
    """
    from pydantic import ValidationError

    try:
        require_sdk().types.GenerateContentConfig.model_validate(config)
    except ValidationError as e:
        first = e.errors()[0]
        path = "config." + ".".join(str(p) for p in first["loc"])
        raise PromptError(f"{path}: {first['msg']}; google-genai refuses this request.",
                          path=path) from None


def create_config(cut: GeminiSplit, decision: CacheDecision, display_name: str) -> dict[str, Any]:
    """``CreateCachedContentConfig`` fields for the cached prefix of ``cut``."""
    return {**cut.cached, "ttl": decision.ttl, "display_name": display_name}


def render_gemini_openai_compatible(prompt: Prompt, *, model: str, cache: CachedPrefix | None = None,
                             cache_turns: int = 0, limits: ModelLimits | None = None,
                             on_dropped: DroppedPolicy = "warn") -> Rendered:
    """``chat.completions.create`` kwargs for Gemini's OpenAI-compatible endpoint.

    The cache is named in ``extra_body={"extra_body": {"google": {"cached_content": ...}}}``: the
    openai SDK merges the outer ``extra_body`` into the JSON, and the endpoint reads the inner one.
    ``on_dropped`` as for :func:`render_gemini`.
    """
    require_turns(prompt, "OpenAI-compatible endpoint", "messages")
    lim = limits if limits is not None else limits_for(model, provider="gemini")
    target = retarget(prompt, model)
    cut = split(prompt, model=model, cache_turns=cache_turns if cache is not None else 0)
    t = translate(target, "chat", {}, system_role="system", prefix_cached=cache is not None,
                  first_turn=cut.turns)
    messages = t.items
    if cache is not None:
        end = stable_end(target)
        loose = [b.payload["text"] for i, b in enumerate(target.blocks)
                 if b.section == "system" and i >= end]
        if loose:
            messages.insert(0, {"role": "user", "content": [{"type": "text", "text": str(x)}
                                                              for x in loose]})
    kwargs: dict[str, Any] = {"model": model, "messages": messages}
    if t.tools and cache is None:
        kwargs["tools"] = t.tools
    dropped: list[str] = []
    for name, value in prompt.params.items():
        if name in ("max_tokens", "temperature", "top_p"):
            kwargs[name] = value
        elif name == "stop_sequences":
            if (stop := stop_list(value)) is not None:
                kwargs["stop"] = stop
        else:
            dropped.append(f"{name}: not sent (not mapped for Gemini's OpenAI-compatible endpoint)")
    if cache is not None:
        kwargs["extra_body"] = {"extra_body": {"google": {"cached_content": cache.name}}}
    plan = _plan(prompt, model, "openai-compatible", cut, None, cache, lim)
    # What the request leaves out is the translation's to say (it wrote the messages and tools),
    # and this endpoint's own parameters'; the native split's entries, which named every block a
    # second time in Gemini's words, count only for a cached prefix, which the split wrote.
    params = tuple(f"{name}:" for name in prompt.params)
    told = {d.partition(": ")[0] for d in t.dropped}
    native = () if cache is None else tuple(
        d for d in plan.dropped if not d.startswith(params) and d.partition(": ")[0] not in told)
    rendered = Rendered(kwargs=kwargs, plan=replace(plan, dropped=(*native, *t.dropped, *dropped)))
    warn_dropped(rendered.plan, on_dropped)
    return rendered


def ttl_seconds(value: str) -> float:
    """Seconds of a TTL given as ``"300s"`` or as one of promptcache's names (``"1h"``)."""
    if value.endswith("s") and value[:-1].replace(".", "", 1).isdigit():
        return float(value[:-1])
    return float(TTL_SECONDS[value])


def preview_gemini(prompt: Prompt, *, model: str | None = None, api: str | None = None,
                   automatic: str | None = None) -> Preview:
    """``prompt`` rendered for ``generate_content``, with its plan: what ``promptcache plan``
    prints for Gemini (implicit caching: no cache resource is assumed to exist). The config is
    not checked against google-genai (``check=False``): the wrapper checks it before a call. No
    DroppedContentWarning: the plan it prints lists every dropped entry."""
    return Preview(rendered=render_gemini(prompt, model=model or prompt.model, check=False,
                                          on_dropped="off"))
