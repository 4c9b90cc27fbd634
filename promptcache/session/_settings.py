"""The settings of one chat session, checked once and handed to the core as one value.

``ChatSession`` and ``AsyncChatSession`` take these as keyword arguments (their public
signature); :meth:`SessionSettings.of` checks and normalises them, so the core's constructor
takes one frozen value instead of repeating the fifteen parameters and their defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptcache.blocks import Document
from promptcache.clock import Clock
from promptcache.errors import PromptError
from promptcache.limits import ModelLimits, Platform
from promptcache.redact import redacted_repr
from promptcache.session._history import check_history
from promptcache.session._wire import message_param
from promptcache.state import CacheState

__all__ = ["SessionSettings", "listed", "system_of"]

def listed(value: Any, name: str) -> tuple[Any, ...]:
    """``tools``, ``documents``, ``history`` or ``system`` blocks as a tuple.

    A number, a string or a lone mapping where a list belongs is a PromptError naming the
    argument, not the bare TypeError that ``tuple(5)`` raises (a mapping would iterate its keys).
    """
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise PromptError(f"ChatSession: {name} must be a list (got {type(value).__name__}).",
                          path=name)
    return tuple(value)


def system_of(value: Any) -> str | tuple[Mapping[str, Any], ...] | None:
    """``system`` as the session keeps it: ``None``, a string or a tuple of text blocks."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise PromptError(f"ChatSession: system must be a string or a list of text blocks (got "
                          f"{type(value).__name__}).", path="system")
    return tuple(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSettings:
    """What a session was created with; the core copies the editable parts (tools, system,
    documents, history) and keeps the rest."""

    #: ``params`` may hold headers and credentials (``extra_headers``): shown as ``<redacted>``.
    __repr__ = redacted_repr

    model: str
    platform: Platform = "api"
    tools: tuple[Mapping[str, Any], ...] = ()
    system: str | tuple[Mapping[str, Any], ...] | None = None
    documents: tuple[Document | Mapping[str, Any], ...] = ()
    #: As message params (SDK ``Message`` objects and content blocks converted), already checked.
    history: tuple[Mapping[str, Any], ...] = ()
    #: The request parameters, ``max_tokens`` included.
    params: Mapping[str, Any] = field(default_factory=lambda: {"max_tokens": 1024})
    #: Shared on purpose when given (``state=``): sessions on one state share what it learns.
    state: CacheState | None = field(default=None, compare=False)
    clock: Clock | None = field(default=None, compare=False)
    limits: ModelLimits | None = None
    diagnostics: bool = True

    @classmethod
    def of(
        cls,
        *,
        model: str,
        tools: Iterable[Mapping[str, Any]] = (),
        system: str | Iterable[Mapping[str, Any]] | None = None,
        documents: Iterable[Document | Mapping[str, Any]] = (),
        history: Iterable[Mapping[str, Any]] = (),
        max_tokens: int = 1024,
        params: Mapping[str, Any] | None = None,
        state: CacheState | None = None,
        clock: Clock | None = None,
        limits: ModelLimits | None = None,
        diagnostics: bool = True,
        platform: Platform = "api",
    ) -> SessionSettings:
        """The settings from the constructor's arguments: a wrong type is a PromptError naming
        the argument, an unsendable history the RuleViolation naming the message."""
        tools_ = listed(tools, "tools")
        system_ = system_of(system)
        documents_ = listed(documents, "documents")
        # SDK objects (a ``Message``, its content blocks) are welcome: kept as the params they are.
        history_ = tuple(message_param(m) for m in listed(history, "history"))
        check_history(list(history_))
        if params is not None and not isinstance(params, Mapping):
            raise PromptError(f"ChatSession: params must be a dict (got {type(params).__name__}).",
                              path="params")
        return cls(model=model, platform=platform, tools=tools_, system=system_,
                   documents=documents_, history=history_,
                   params={"max_tokens": max_tokens, **(params or {})}, state=state, clock=clock,
                   limits=limits, diagnostics=diagnostics)
