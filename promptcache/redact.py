"""Secrets kept out of reprs: header values and credentials shown as ``<redacted>``.

A ``repr`` ends up in logs, tracebacks and crash reports (which capture locals). The objects that
carry a call's keyword arguments (a Prompt's params, a wrapped call's ``Prepared``, a rendered
request) hold ``extra_headers`` (``x-api-key``, ``Authorization``) and sometimes credentials, so
their reprs go through :func:`redacted`. Only the repr changes: the values themselves are sent.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["REDACTED", "is_sensitive_name", "redacted", "redacted_repr"]

REDACTED: Final = "<redacted>"

_SENSITIVE = re.compile(r"key|token|secret|auth|cookie|passw|credential|signature", re.IGNORECASE)
#: Names the pattern matches that hold no secret: token counts and the cache routing key.
_NOT_SECRET = re.compile(r"tokens$|^prompt_cache_key$|^cache_key$", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def is_sensitive_name(name: str) -> bool:
    """Whether a header, query parameter or attribute name may carry a credential.

    Memoised: the response cache asks it for the same few header names on every call, and the
    regular expression costs microseconds a name.
    """
    return bool(_SENSITIVE.search(name))


def _hides(name: str) -> bool:
    return is_sensitive_name(name) and not _NOT_SECRET.search(name)


def redacted(value: Any, name: str = "") -> Any:
    """A copy of ``value`` (held under ``name``) for display: every header's value, and the value
    of every entry whose name looks like a credential (``api_key``, ``x-api-key``,
    ``auth_token``...), replaced by ``<redacted>``; names, structure and everything else kept.

    Every value under a ``*headers`` name is hidden, not only secret-looking ones: a gateway's
    auth header may have any name. Objects other than mappings, lists and tuples are left as they
    are (their own repr decides).
    """
    if name.lower().endswith("headers") and isinstance(value, Mapping):
        return dict.fromkeys(value, REDACTED)
    if _hides(name) and value is not None and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redacted(v) for v in value)
    return value


def redacted_repr(obj: Any) -> str:
    """The dataclass repr of ``obj`` (fields with ``repr=True``), each value through
    :func:`redacted`: assign it as ``__repr__`` of a dataclass that carries request arguments."""
    shown = ", ".join(f"{f.name}={redacted(getattr(obj, f.name), f.name)!r}"
                      for f in dataclasses.fields(obj) if f.repr)
    return f"{type(obj).__name__}({shown})"
