"""Kill switches: turn promptcache's planning, or its response cache, off without a code change.

An operator who suspects promptcache (a bill that went up, a request the API refuses) sets an
environment variable instead of shipping new code: each wrapped client reads it at every call, so
a restart with the variable set (or ``os.environ`` changed in the running process) takes effect
on the next call.

- ``PROMPTCACHE_DISABLE=1``: every wrapped client sends each request exactly as written (no
  markers added, nothing planned); usage is still counted in the ledger.
- ``PROMPTCACHE_DISABLE_RESPONSE_CACHE=1``: the exact-match response cache is bypassed (no read,
  no write); the call goes to the API.

Each switch is logged once per process (WARNING on the ``promptcache`` logger) when it first
takes effect. ``1``, ``true``, ``yes`` and ``on`` (any case) turn a switch on.
"""

from __future__ import annotations

import os
from typing import Any

from promptcache.log import once

__all__ = ["DISABLE", "DISABLE_RESPONSE_CACHE", "planning_disabled", "response_cache_disabled"]

#: The environment variable that turns planning off for every wrapped client.
DISABLE = "PROMPTCACHE_DISABLE"
#: The environment variable that turns the response cache off for every client.
DISABLE_RESPONSE_CACHE = "PROMPTCACHE_DISABLE_RESPONSE_CACHE"

_ON = frozenset({"1", "true", "yes", "on"})


#: Per variable name: the ``os.environ`` it was encoded for, and its key in that mapping's data.
_keys: dict[str, tuple[object, Any]] = {}


def _get(name: str) -> str:
    """``os.environ.get(name, "")``, read from the mapping's own data where CPython has it.

    The switches are read on every call of every wrapped client (a response-cache hit takes a
    few µs in all), and ``os.environ.get`` of an unset variable raises and catches a KeyError
    inside, which costs more than the rest of the read. The same ``os.environ`` updates
    ``_data`` on every write (``monkeypatch.setenv`` included); anything else falls back to
    ``get``.
    """
    env = os.environ
    data = getattr(env, "_data", None)
    if type(data) is not dict:
        return env.get(name, "")
    found = _keys.get(name)
    if found is None or found[0] is not env:
        found = _keys[name] = (env, env.encodekey(name))
    raw = data.get(found[1])
    return "" if raw is None else env.decodevalue(raw)


def _on(name: str) -> bool:
    value = _get(name)
    return bool(value) and value.strip().lower() in _ON


def planning_disabled() -> bool:
    """True when ``PROMPTCACHE_DISABLE`` is set: wrapped clients send requests as written."""
    if not _on(DISABLE):
        return False
    once(DISABLE, f"{DISABLE} is set: promptcache plans nothing; wrapped clients send every "
                  "request exactly as written.", extra={"promptcache_cause": "disabled"})
    return True


def response_cache_disabled() -> bool:
    """True when ``PROMPTCACHE_DISABLE_RESPONSE_CACHE`` is set: the response cache is bypassed."""
    if not _on(DISABLE_RESPONSE_CACHE):
        return False
    once(DISABLE_RESPONSE_CACHE, f"{DISABLE_RESPONSE_CACHE} is set: the response cache is "
                                 "bypassed; every call goes to the API.",
         extra={"promptcache_cause": "response-cache-disabled"})
    return True
