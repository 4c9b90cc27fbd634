"""Anthropic Messages API adapter: render a Plan, read hand-written requests, validate them.

``render_anthropic`` gives the keyword arguments for ``client.messages.create(**kwargs)`` (also accepted by
the SDK's Bedrock and Vertex clients); ``validate`` checks any request, built here or by hand,
against every caching rule before it leaves the process.
"""

from __future__ import annotations

import ast
import bisect
import importlib.util
import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from promptcache.builder import PromptBuilder
from promptcache.errors import CacheWarning, PromptError, RuleViolation
from promptcache.limits import ModelLimits, Platform, limits_for
from promptcache.optimizer import DEFAULT_MARGIN, optimize
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.common import Preview
from promptcache.rules import Marker, check_markers, request_level_ttl
from promptcache.state import CacheState

__all__ = [
    "AnthropicPrefixCounter",
    "MarkerFinding",
    "ValidationReport",
    "preview_anthropic",
    "prompt_from_request",
    "read_prompt",
    "render_anthropic",
    "render_content",
    "render_prefix",
    "validate",
    "with_model",
]

_COMPOSED = frozenset({"model", "messages", "system", "tools", "cache_control"})
#: Composed by the builder; the request-level ``cache_control`` stays a parameter.
_PARAMS_SKIPPED = frozenset({"model", "messages", "system", "tools"})


@cache
def _create_parameters() -> frozenset[str]:
    """The keyword arguments the installed SDK's ``messages.create`` accepts (the SDK wins).

    Read from the SDK's own source rather than by importing it: ``import anthropic`` takes
    seconds (75% of ``promptcache plan``), parsing one file about 30 ms. The import remains the
    fallback where the source is not there to read (a zipped or compiled install).
    """
    names = _parameters_from_source()
    if names:
        return names
    try:
        from anthropic.resources.messages import Messages
    except ImportError:  # pragma: no cover - anthropic is a hard dependency
        return frozenset()
    return frozenset(p for p in inspect.signature(Messages.create).parameters if p != "self")


def _parameters_from_source() -> frozenset[str]:
    """The parameters of every ``Messages.create`` overload in the installed SDK's source."""
    try:
        spec = importlib.util.find_spec("anthropic")  # finds the package without importing it
        if spec is None or spec.origin is None:
            return frozenset()
        source = Path(spec.origin).parent / "resources" / "messages" / "messages.py"
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, ImportError):
        return frozenset()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Messages":
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "create":
                    names.update(a.arg for a in (*fn.args.args, *fn.args.kwonlyargs))
    return frozenset(names - {"self"})


def _check_params(params: Mapping[str, Any]) -> None:
    allowed = _create_parameters()
    for name in params:
        if allowed and name not in allowed:
            raise PromptError(
                f"{name!r} is not a parameter of messages.create in the installed anthropic SDK; "
                f"accepted: {', '.join(sorted(allowed - _COMPOSED))}. Pass provider extras "
                "through extra_body.", path=name,
            )


def _marked(payload: Mapping[str, Any], ttl: str | None) -> Mapping[str, Any]:
    """The block with its marker. Unmarked blocks are the Prompt's own (private) payloads,
    shared rather than copied so rendering a long conversation stays cheap: treat the rendered
    request as read-only, as the SDK does."""
    if ttl is None:
        return payload
    out = dict(payload)
    out["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return out


def _assemble(prompt: Prompt, marks: Mapping[int, str], stop: int) -> dict[str, Any]:
    head = prompt.turns[0].start if prompt.turns else len(prompt.blocks)
    tools = [_marked(b.payload, marks.get(i)) for i, b in enumerate(prompt.blocks[:min(head, stop)])
             if b.section == "tools"]
    system = [_marked(b.payload, marks.get(i)) for i, b in enumerate(prompt.blocks[:min(head, stop)])
              if b.section == "system"]
    if stop >= len(prompt.blocks):
        # The whole conversation: share the prompt's unmarked message dicts, copy marked turns.
        messages = list(prompt.message_dicts())
        marked_turns = {_turn_of(prompt, i) for i in marks if i >= head}
        for t in sorted(marked_turns):
            turn = prompt.turns[t]
            messages[t] = {"role": turn.role, "content": [
                _marked(prompt.blocks[i].payload, marks.get(i)) for i in range(turn.start, turn.stop)]}
    else:
        messages = []
        for turn in prompt.turns:
            if turn.start >= stop:
                break
            messages.append({"role": turn.role, "content": [
                _marked(prompt.blocks[i].payload, marks.get(i))
                for i in range(turn.start, min(turn.stop, stop))]})
    kwargs: dict[str, Any] = {"model": prompt.model}
    if tools:
        kwargs["tools"] = tools
    if system:
        kwargs["system"] = system
    kwargs["messages"] = messages
    return kwargs


def _turn_of(prompt: Prompt, index: int) -> int:
    """The index of the turn holding block ``index`` (turns are sorted by their starts)."""
    return bisect.bisect_right(prompt.turns, index, key=lambda t: t.start) - 1


def render_anthropic(prompt: Prompt, plan: Plan | None = None, *, state: CacheState | None = None,
           now: float | None = None, model: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``client.messages.create(**kwargs)`` with the plan's breakpoints.

    Plans with ``optimize`` when no plan is given. With a ``state``, the plan's writes are recorded
    (the request is assumed sent): use :func:`record_sent` instead if you plan and send separately.
    ``model`` renders a Prompt built without one (or for another Claude model).

    A request-level ``cache_control`` read by :func:`prompt_from_request` is kept: the plan
    reserves its breakpoint (a plan made without it is made again with it, so the request never
    carries more breakpoints than the API accepts).
    """
    if model is not None:
        prompt = with_model(prompt, model)
    if not prompt.model:
        raise PromptError("The Prompt has no model: PromptBuilder(model) or set_model(...), or "
                          "render_anthropic(prompt, model=...).", path="model")
    automatic = request_level_ttl(prompt.params)
    if plan is None or (automatic is not None and plan.automatic_ttl is None):
        plan = optimize(prompt, state=state, now=now, automatic=automatic,
                        limits=plan.limits if plan is not None else None)
    if "max_tokens" not in prompt.params:
        raise PromptError("max_tokens is required by the Messages API: "
                          "builder.set_params(max_tokens=...).", path="max_tokens")
    _check_params(prompt.params)
    if not prompt.turns:
        raise PromptError("The Messages API needs at least one message: "
                          "builder.add_user_turn(...).", path="messages")
    kwargs = render_content(prompt, plan)
    kwargs.update((k, v) for k, v in prompt.params.items() if k != "cache_control")
    if state is not None:
        record_sent(state, prompt, plan, now=now, response_started=False)
    return kwargs


def render_content(prompt: Prompt, plan: Plan) -> dict[str, Any]:
    """Only what the plan decides: ``model``, ``tools``, ``system``, ``messages`` with their
    markers and the request-level ``cache_control``; no other parameter is checked or added.

    The drop-in wrapper merges these into the caller's own keyword arguments, so everything else
    reaches the SDK exactly as written.
    """
    marks = {p.index: p.ttl for p in plan.placements if p.source != "automatic"}
    kwargs = _assemble(prompt, marks, len(prompt.blocks))
    if plan.automatic_ttl is not None:
        kwargs["cache_control"] = {"type": "ephemeral", "ttl": plan.automatic_ttl}
    return kwargs


def record_sent(state: CacheState, prompt: Prompt, plan: Plan, *, now: float | None = None,
                response_started: bool = True, read_tokens: int | None = None,
                total_tokens: int | None = None) -> None:
    """Tell ``state`` that ``prompt`` was sent with ``plan``: its writes and its layers' reuse.

    Call it once the response has started (the default), and the writes are readable at once.
    Recording a request still in flight (``response_started=False``) leaves its writes pending
    for the state's ``response_latency``: concurrent requests are then not promised a read the
    provider cannot give them yet. ``read_tokens`` is the response's
    ``usage.cache_read_input_tokens`` when you have it: the state learns from what the provider
    actually read (:meth:`CacheState.record_read`), which matters most on a fleet of workers
    with private states. ``total_tokens`` is the response's whole input count (``input_tokens +
    cache_read_input_tokens + cache_creation_input_tokens``, ``Usage.total_input_tokens``): with
    it the state measures the model's token ratio against our estimate, so a provider that counts
    differently from the model row is not taken for expired entries.
    """

    when = state.now() if now is None else now
    fps = plan.fingerprints or prompt.fingerprints
    writes = [(fps[p.index], p.ttl, p.prefix_tokens) for p in plan.placements
              if p.prefix_tokens >= plan.limits.estimated_minimum]
    # One call: with a shared store (Redis) the sightings and every write are one round trip.
    state.record_request(prompt, fps, writes, when,
                         readable_at=when if response_started else None)
    if read_tokens is not None:
        state.record_read(prompt, plan, read_tokens, when, total=total_tokens)


def render_prefix(prompt: Prompt, index: int) -> dict[str, Any]:
    """The request cut after block ``index``, for ``messages.count_tokens`` (no markers).

    A prefix that ends before the messages gets a one-character user message, because the
    endpoint needs one: the count is then a few tokens high, which errs on the safe side.
    """
    kwargs = _assemble(prompt, {}, index + 1)
    if not kwargs["messages"]:
        kwargs["messages"] = [{"role": "user", "content": "."}]
    for key in ("thinking", "tool_choice"):
        if key in prompt.params:
            kwargs[key] = prompt.params[key]
    return kwargs


class AnthropicPrefixCounter:
    """Exact prefix counts from ``client.messages.count_tokens`` (an ``anthropic.Anthropic``)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def count_prefix(self, prompt: Prompt, index: int) -> int:
        result = self._client.messages.count_tokens(**render_prefix(prompt, index))
        return int(result.input_tokens)


def with_model(prompt: Prompt, model: str) -> Prompt:
    """``prompt`` planned for ``model`` (same blocks, layers and turns)."""
    if model == prompt.model:
        return prompt
    return Prompt(model=model, blocks=prompt.blocks, layers=prompt.layers, turns=prompt.turns,
                  params=prompt.params, platform=prompt.platform)


def prompt_from_request(request: Mapping[str, Any], *, platform: Platform = "api") -> Prompt:
    """Read a ``messages.create`` request into a Prompt, markers included.

    The request may hold SDK objects anywhere a dict is accepted (``response.content`` blocks, a
    whole ``Message`` as the assistant turn, ``ToolParam``\\s). A request-level ``cache_control``
    is kept in ``Prompt.params`` and honoured by :func:`render_anthropic`.
    """
    if not isinstance(request, Mapping):
        raise PromptError("A request must be a dict of messages.create keyword arguments, got "
                          f"{type(request).__name__}.", path="request")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise PromptError("The request has no 'model' string.", path="model")
    builder = PromptBuilder(model, platform=platform)
    tools = request.get("tools")
    if tools is not None:
        builder.add_tools(tools)
    system = request.get("system")
    if system is not None and system != "":
        builder.add_system(system)
    messages = request.get("messages")
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise PromptError("The request needs a non-empty 'messages' list.", path="messages")
    builder.add_messages(messages)
    request_level_ttl(request)
    builder.set_params(**{str(k): v for k, v in request.items() if k not in _PARAMS_SKIPPED})
    return builder.build()


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerFinding:
    """A marker the API accepts but that cannot take effect."""

    path: str
    rule: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """The outcome of :func:`validate`: the breakpoints counted, and every finding."""

    model: str
    limits: ModelLimits
    breakpoints: int
    findings: tuple[MarkerFinding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def validate(request: Mapping[str, Any], *, platform: Platform = "api",
             limits: ModelLimits | None = None, margin: float = 0.0,
             warn: bool = True) -> ValidationReport:
    """Check an Anthropic request against every caching rule before it is sent.

    Raises :class:`RuleViolation` (or :class:`PromptError` for malformed content) where the API
    would answer 400: more than 4 breakpoints, a 1h breakpoint after a 5m one, a marker on a
    thinking block, a sub-block or an empty block, a conflicting request-level TTL. Emits a
    :class:`CacheWarning` for each marker that cannot take effect (prefix below the model minimum;
    ``margin`` > 0 also flags those too close to it), and returns them in the report.
    """
    prompt = prompt_from_request(request, platform=platform)
    lim = limits if limits is not None else limits_for(prompt.model, provider="anthropic",
                                                        platform=platform)
    markers = [Marker(index=i, ttl=b.user_ttl) for i, b in enumerate(prompt.blocks) if b.user_ttl]
    automatic = request_level_ttl(request)
    if automatic is not None:
        last = max((i for i, b in enumerate(prompt.blocks) if b.markable), default=None)
        if last is None:
            raise RuleViolation("cache_control (request level): no block can carry a marker.",
                                path="cache_control", rule="uncacheable-block")
        markers.append(Marker(index=last, ttl=automatic, automatic=True))
        markers.sort(key=lambda m: (m.index, m.automatic))
    findings = tuple(MarkerFinding(path=p, rule=r, message=m)
                     for p, r, m in check_markers(prompt, markers, lim, margin=margin))
    if warn:
        for f in findings:
            warnings.warn(CacheWarning(f.message, path=f.path, rule=f.rule), stacklevel=2)
    return ValidationReport(model=prompt.model, limits=lim, breakpoints=len(markers),
                            findings=findings)


# Re-exported for convenience: plan and render in one call with the default margin.
DEFAULT_SAFETY_MARGIN = DEFAULT_MARGIN


def read_prompt(request: Mapping[str, Any], api: str) -> Prompt:
    """A ``messages.create`` request as a Prompt (the registry's ``read_prompt``)."""
    return prompt_from_request(request)


def preview_anthropic(prompt: Prompt, *, model: str | None = None, api: str | None = None,
                      automatic: str | None = None) -> Preview:
    """The optimizer's plan for ``prompt`` and, when it has ``max_tokens``, the request it
    renders: what ``promptcache plan`` prints for the Messages API."""
    if model is not None:
        prompt = with_model(prompt, model)
    plan = optimize(prompt, automatic=automatic)
    request = render_anthropic(prompt, plan) if "max_tokens" in prompt.params else None
    return Preview(plan=plan, request=request)
