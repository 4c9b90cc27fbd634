"""SDK objects as plain data: what the anthropic, openai and google-genai clients return, as dicts.

Users hand promptcache what their SDK gave them: ``response.content`` (``TextBlock``,
``ToolUseBlock``, ``ThinkingBlock``...), a whole ``Message`` as the assistant turn, an OpenAI
``ChatCompletionMessage``, a Gemini ``Content``. Every entry point converts them here, in one
place, the way the SDKs themselves serialise a request (``model_dump(mode="json",
exclude_none=True)``), so that a nested object never surfaces as a raw ``TypeError: not JSON
serializable`` and a dict and the object it came from give the same digest.

The walk is iterative: the SDKs send requests nested 700 levels deep, and a recursive walk would
stop at Python's recursion limit before they do. It also refuses text that cannot be sent: a lone
surrogate cannot be encoded as UTF-8, and the SDK would fail on it while sending.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from promptcache.errors import PromptError

__all__ = ["is_sdk_object", "plain"]

_SCALARS = (str, int, float, bool, type(None))
#: The scalar types themselves (not subclasses): fine as they are, see _scan.
_EXACT_SCALARS = frozenset({int, float, bool, type(None)})
#: The documented key order of content blocks (``sorted`` is stable: other keys keep theirs).
_KEY_ORDER = {k: i for i, k in enumerate((
    "type", "id", "tool_use_id", "name", "input", "text", "thinking", "signature", "data",
    "content", "is_error", "citations", "source", "title", "context"))}


def is_sdk_object(value: Any) -> bool:
    """True for a pydantic model (every SDK type promptcache reads is one)."""
    return not isinstance(value, Mapping) and callable(getattr(value, "model_dump", None))


def _dump(value: Any) -> Any:
    """One SDK object, one level deep, as the SDK would send it, keys in the documented order.

    Fields left unset (``None``) are left out, like ``model_dump(exclude_none=True)``; nested
    objects are dumped by the same function (through ``json.dumps``'s ``default``), so every
    level gets the order. The SDK models list their fields alphabetically; the docs, and the
    dicts users and :mod:`promptcache.session` write, lead with ``type`` (``{"type":
    "tool_use", "id", "name", "input"}``). Key order is part of a block's digest, so a block
    appended as an object and the same block written as a dict must come out in one order.
    google-genai aliases every field to camelCase; its dict form (and ours) is snake_case.
    """
    by_alias = not type(value).__module__.startswith("google.")
    out: dict[str, Any] = {}
    for name, info in type(value).model_fields.items():
        item = getattr(value, name, None)
        if item is not None:
            out[info.alias if by_alias and info.alias else name] = item
    for name, item in (getattr(value, "model_extra", None) or {}).items():
        if item is not None:
            out[name] = item
    if "type" in out:
        return dict(sorted(out.items(), key=lambda kv: _KEY_ORDER.get(kv[0], len(_KEY_ORDER))))
    return out


def _problem(value: Any) -> str | None:
    """What is wrong with one leaf ('' when it must be converted, None when it is fine)."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return (f"text holding a lone surrogate ({value[e.start]!r} at offset {e.start}) "
                    "cannot be encoded as UTF-8, so no SDK can send it; remove or replace it")
        return None
    if isinstance(value, _SCALARS):
        return None
    if is_sdk_object(value) or isinstance(value, tuple) or (
            isinstance(value, Mapping) and not isinstance(value, dict)):
        return ""
    if isinstance(value, dict | list):
        return None
    return f"a {type(value).__name__} is not JSON data (dicts, lists, strings, numbers, booleans)"


def _children(value: Any) -> Any:
    if isinstance(value, dict):
        return value.values()
    if isinstance(value, list):
        return value
    return ()


def _scan(value: Any) -> bool:
    """True when ``value`` holds something to convert; raises on something that cannot be sent."""
    convert = False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        # The plain JSON types first, by exact type (what _problem says of them, without its
        # isinstance checks against ABCs): this walk reads every value of every new block.
        if kind is str:
            if item.isascii():
                continue
        elif kind is dict:
            stack.extend(item.values())
            continue
        elif kind is list:
            stack.extend(item)
            continue
        elif kind in _EXACT_SCALARS:
            continue
        problem = _problem(item)
        if problem is None:
            if isinstance(item, dict | list):
                stack.extend(_children(item))
        elif problem == "":
            convert = True
            if is_sdk_object(item):
                continue  # its dump is checked after conversion
            stack.extend(item.values() if isinstance(item, Mapping) else item)
        else:
            return _fail(value, item, problem)
    return convert


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _fail(root: Any, bad: Any, problem: str) -> bool:
    """Raise with the path of ``bad`` inside ``root`` (found again, only on this slow path)."""
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        item, path = stack.pop()
        if item is bad:
            raise _Bad(path, problem)
        if isinstance(item, Mapping):
            stack.extend((v, f"{path}.{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
    raise _Bad("", problem)


def _default(value: Any) -> Any:
    if is_sdk_object(value):
        return _dump(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):  # what the SDKs send for bytes fields (google-genai's data)
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def plain(value: Any, origin: str) -> Any:
    """``value`` with every SDK object (at any depth) replaced by its JSON data.

    Returns ``value`` itself when it is already plain (the common case: no copy). Raises
    :class:`PromptError` naming ``origin`` and the inner path for text that cannot be encoded
    or a value that is not JSON data.
    """
    try:
        if not _scan(value):
            return value
        out = json.loads(json.dumps(value, default=_default, ensure_ascii=False))
        _scan(out)
        return out
    except _Bad as e:
        path = origin + e.path
        raise PromptError(f"{path}: {e.problem}.", path=path) from None
    except (TypeError, ValueError) as e:
        raise PromptError(f"{origin}: cannot be read as JSON data ({e}).", path=origin) from None
    except RecursionError:
        raise PromptError(f"{origin}: nested too deeply to be sent as JSON.", path=origin) from None
