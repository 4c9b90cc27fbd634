"""What every subcommand shares: reading request files, printing JSON, reporting errors.

A user mistake (missing file, bad JSON, text that is not UTF-8, a malformed request) exits 2 with
one sentence on stderr naming the file and the path, never a traceback: these commands run in CI,
where a traceback hides the fix. Secrets a request carries (API keys in ``extra_headers`` or
``extra_body``) never reach the output: :func:`redact` masks them in printed requests and
:func:`fail` in error messages, because CLI output ends up in CI logs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promptcache.errors import PromptCacheError

__all__ = ["REDACTED", "USAGE_ERROR", "fail", "print_json", "read_json", "read_text", "redact",
           "secrets_of"]

#: Exit code for a usage or parse error (1 is reserved for "findings" / "cache invalidated").
USAGE_ERROR = 2
#: What a secret value is replaced with.
REDACTED = "<redacted>"

#: Request keys whose values are passed to the HTTP layer as they are, and may carry credentials.
_PASSTHROUGH = ("extra_headers", "extra_body", "extra_query", "default_headers")
#: Headers whose values are protocol switches, never credentials: shown so a plan can be read.
_PUBLIC_HEADERS = frozenset({"anthropic-beta", "anthropic-version", "content-type", "accept",
                             "openai-beta", "user-agent"})
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|credential|cookie|session|signature",
                          re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(sk-|sk_|rk-|AIza|ya29\.|xox[abp]-|gh[pousr]_|Bearer |Basic )|"
                           r"^[A-Za-z0-9_\-]{32,}$")


def read_text(path: str) -> str:
    """The text of ``path`` (``-``: stdin), as UTF-8; raises PromptCacheError naming the file."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise PromptCacheError(f"Cannot read {path!r}: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PromptCacheError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                               f"{e.start}); save the file as UTF-8.") from None


def read_json(path: str) -> Any:
    """The parsed JSON of ``path``; raises PromptCacheError naming the file."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise PromptCacheError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, "
                               f"column {e.colno}).") from None
    except RecursionError:
        raise PromptCacheError(f"{path}: JSON nested too deeply to read.") from None


def _is_secret(name: str, value: Any) -> bool:
    return bool(_SECRET_NAME.search(name)) or (isinstance(value, str)
                                               and bool(_SECRET_VALUE.search(value)))


def _mask(value: Any, name: str, header: bool) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k), header) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, name, header) for v in value]
    if header and name.lower() not in _PUBLIC_HEADERS:
        return REDACTED
    return REDACTED if _is_secret(name, value) else value


def redact(request: Any) -> Any:
    """``request`` with credential values in its pass-through keys replaced by :data:`REDACTED`.

    Header values are all masked but a few protocol switches (``anthropic-beta``...); in
    ``extra_body``/``extra_query`` the values under secret-looking names or shaped like API keys.
    The same in a Gemini request's ``config.http_options`` (``headers``, ``extra_body``).
    The key stays, so a reader still sees that the parameter is there.
    """
    if not isinstance(request, Mapping):
        return request
    out = {k: _mask(v, str(k), header=k in ("extra_headers", "default_headers"))
           if k in _PASSTHROUGH else v for k, v in request.items()}
    config = out.get("config")
    if isinstance(config, Mapping) and isinstance(config.get("http_options"), Mapping):
        # google-genai carries headers and extra_body in config.http_options.
        options = config["http_options"]
        out["config"] = {**config, "http_options": {
            k: _mask(v, str(k), header=k == "headers") if k in ("headers", "extra_body") else v
            for k, v in options.items()}}
    return out


def secrets_of(request: Any) -> list[str]:
    """Every string value :func:`redact` would mask in ``request``, longest first."""
    found: list[str] = []

    def walk(original: Any, masked: Any) -> None:
        if isinstance(original, Mapping) and isinstance(masked, Mapping):
            for k, v in original.items():
                walk(v, masked.get(k))
        elif isinstance(original, list | tuple) and isinstance(masked, list):
            for a, b in zip(original, masked, strict=False):
                walk(a, b)
        elif masked == REDACTED and original != REDACTED:
            text = original if isinstance(original, str) else json.dumps(original)
            if text:
                found.append(text)

    if isinstance(request, Mapping):
        walk(request, redact(request))
    return sorted(set(found), key=len, reverse=True)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout; non-ASCII kept, escaped only if stdout cannot take it."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:  # a lone surrogate, or a stdout that is not UTF-8
        sys.stdout.write(json.dumps(value, indent=2) + "\n")
    sys.stdout.flush()


def fail(error: Exception | str, secrets: Iterable[str] = ()) -> int:
    """Print ``error`` as one line on stderr, secrets masked; return the usage-error exit code."""
    message = str(error)
    for secret in secrets:
        message = message.replace(secret, REDACTED)
    sys.stderr.write(f"promptcache: error: {message}\n".encode("utf-8", "backslashreplace")
                     .decode("utf-8"))
    sys.stderr.flush()
    return USAGE_ERROR
