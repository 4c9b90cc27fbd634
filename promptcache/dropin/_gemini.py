"""The Gemini side of the wrapper: ``models.generate_content`` (and its stream).

Gemini's implicit cache needs only a byte-stable prefix first, which a request written as
system instruction, tools, then contents already has: the wrapper plans it (what will be cached,
at what expected cost, in ``client.promptcache.last.summary``) and sends the request as written.
An explicit ``cachedContents`` resource is a lifecycle (create, extend, delete) rather than a
per-request setting; it is left to :class:`promptcache.gemini.GeminiCacheManager`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptcache.dropin._core import Prepared, WrapHandle, given
from promptcache.limits import limits_for
from promptcache.providers.gemini.render import render_gemini
from promptcache.providers.gemini.request import prompt_from_gemini_request

__all__ = ["prepare_generate"]


def prepare_generate(kwargs: Mapping[str, Any], handle: WrapHandle) -> Prepared:
    """Plan one ``generate_content`` call; its arguments are sent unchanged."""
    request = given(kwargs)
    prompt = prompt_from_gemini_request(request)
    limits = limits_for(prompt.model, provider="gemini")
    summary = render_gemini(prompt, model=prompt.model, limits=limits, on_dropped="off").plan
    return Prepared(kwargs=kwargs, provider="gemini", model=prompt.model, planned=True,
                    limits=limits, summary=summary)
