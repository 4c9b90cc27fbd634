"""OpenAI usage: chat ``CompletionUsage`` and responses ``ResponseUsage``, objects or dicts.

Both report a prompt total that includes cached (and written) tokens; they are subtracted so
``Usage.input_tokens`` is plain input. A write with no TTL breakdown (chat) is put under ``30m``,
the default TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptcache.errors import PromptCacheError
from promptcache.providers._sdkjson import as_dict, number
from promptcache.usage import Usage

__all__ = ["usage_from_openai"]


def _from_usage(u: Mapping[str, Any], model: str) -> Usage:
    if "prompt_tokens" in u:
        details = as_dict(u.get("prompt_tokens_details"))
        prompt, output = number(u, "prompt_tokens"), number(u, "completion_tokens")
        writes = {"30m": number(details, "cache_write_tokens")}
    else:
        details = as_dict(u.get("input_tokens_details"))
        prompt, output = number(u, "input_tokens"), number(u, "output_tokens")
        by_ttl = as_dict(details.get("cache_write_tokens_details"))
        total_writes = number(details, "cache_write_tokens")
        if by_ttl:
            writes = {"30m": number(by_ttl, "ttl_30m_tokens"), "12h": number(by_ttl, "ttl_12h_tokens")}
        else:
            writes = {"30m": total_writes}
    cached = number(details, "cached_tokens")
    return Usage(
        provider="openai",
        model=model,
        input_tokens=max(0, prompt - cached - sum(writes.values())),
        cache_read_tokens=cached,
        cache_writes=writes,
        output_tokens=output,
    )


def usage_from_openai(response: Any, *, model: str | None = None) -> Usage:
    """Parse a ``ChatCompletion``/``Response``, their usage objects, dicts, or stream chunks.

    For a stream, the chunk or event that carries usage (chat's last chunk with
    ``stream_options.include_usage``; responses' ``response.completed``) is used.
    """
    if (
        not isinstance(response, Mapping)
        and not hasattr(response, "model_dump")
        and isinstance(response, Iterable)
    ):
        found: Usage | None = None
        for item in response:
            d = as_dict(item)
            if d.get("type") == "response.completed":
                d = as_dict(d.get("response"))
            if d.get("usage"):
                found = usage_from_openai(d, model=model)
        if found is None:
            raise PromptCacheError(
                "No chunk in the stream carries usage: pass stream_options={'include_usage': True} "
                "to chat.completions.create, or keep the response.completed event."
            )
        return found
    d = as_dict(response)
    if "usage" in d:
        return _from_usage(as_dict(d["usage"]), model or str(d.get("model") or ""))
    return _from_usage(d, model or "")
