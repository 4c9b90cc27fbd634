"""A fleet's shared planner state on Redis: warm entries and per-layer reuse statistics.

Give every worker of a service its own :class:`~promptcache.CacheState` over one store::

    state = CacheState(shared=RedisStateStore("redis://cache-host:6379/0"))

so that any worker reads what another wrote, bridges the lookback to it, and learns TTLs and
volatile layers from the whole fleet's traffic. Requires the ``redis`` package
(``pip install "promptcache[redis]"``).

What it costs a request: planning is **one** pipelined round trip (the entries at the candidate
positions, and each layer's statistics and content sighting); recording a sent request with
:func:`promptcache.record_sent` is **one** more (every write and sighting in one pipeline of
server-side scripts, which merge atomically: a read keeps the entry's own TTL, concurrent writers
keep the earliest readable time). Socket and connect timeouts default to 5 ms: a slow or dead
server costs a request at most that, after which the state plans from its local view (one
warning) and leaves the store alone for ``retry_after`` seconds.

Memory in Redis: an entry key per written prefix, expiring with its TTL (Redis key expiry); a
last-seen key per layer content, expiring after the horizon (2 h); per layer one small hash and a
list of at most ``max_gaps`` gaps, expiring a week after the layer was last seen. So the store holds
what the fleet wrote in the last hour and saw in the last two; bound it further with
``maxmemory`` and ``maxmemory-policy volatile-lru`` (every key here has an expiry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptcache.errors import MissingDependencyError
from promptcache.limits import TTL_SECONDS
from promptcache.state import DECAY, CacheEntry, LayerStats, Sighting, StoreError

__all__ = ["RedisStateStore"]

_TTL_BY_SECONDS = {int(s): name for name, s in TTL_SECONDS.items()}

# KEYS[1] entry. ARGV: now, ttl seconds, tokens, readable_at.
_ENTRY = """
local now = tonumber(ARGV[1]); local ttl = tonumber(ARGV[2]); local readable = tonumber(ARGV[4])
local written = now
local old = redis.call('GET', KEYS[1])
if old then
  local w, r, t, k, rd = string.match(old, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  if w and now < tonumber(r) + tonumber(t) then
    written = tonumber(w); ttl = tonumber(t); readable = math.min(tonumber(rd), readable)
  end
end
redis.call('SET', KEYS[1], string.format('%.6f|%.6f|%d|%d|%.6f', written, now, ttl,
           tonumber(ARGV[3]), readable), 'PX', math.floor(ttl * 1000))
return 1
"""

# KEYS[1] content last-seen, KEYS[2] layer hash, KEYS[3] layer gaps.
# ARGV: now, latency, horizon ms, window, max gaps, decay, layer ttl ms, request size.
_SIGHT = """
local now = tonumber(ARGV[1]); local latency = tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
local last, own = nil, '-1'
if raw then
  local a, g = string.match(raw, '^([^|]+)|([^|]+)')
  last = tonumber(a); own = g
end
local gap = nil
local new = 1
if last then
  gap = now - last
  if gap >= 0 and gap * 1000 <= tonumber(ARGV[3]) then new = 0 end
  if new == 0 and gap >= latency then own = tostring(gap) end
end
local at = ARGV[1]
if last and last > now then at = tostring(last) end
redis.call('SET', KEYS[1], at .. '|' .. own .. '|' .. ARGV[8], 'PX', ARGV[3])
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
local concurrent = new == 0 and gap ~= nil and gap < latency
if n > 0 and not concurrent then
  local bits = string.sub((redis.call('HGET', KEYS[2], 'recent') or '') .. new, -tonumber(ARGV[4]))
  local keep = 1 - 1 / tonumber(ARGV[6])
  local w = tonumber(redis.call('HGET', KEYS[2], 'w') or '0') * keep + 1
  local nw = tonumber(redis.call('HGET', KEYS[2], 'nw') or '0') * keep + new
  redis.call('HSET', KEYS[2], 'recent', bits, 'w', tostring(w), 'nw', tostring(nw))
end
if new == 0 and gap ~= nil and gap >= latency then
  redis.call('RPUSH', KEYS[3], tostring(gap))
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[5]), -1)
end
redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[7]); redis.call('PEXPIRE', KEYS[3], ARGV[7])
return new
"""


class RedisStateStore:
    """A :class:`~promptcache.state.SharedStore` on Redis (see the module docstring).

    ``client`` is a ``redis.Redis`` or a URL in redis-py's form (``Redis.from_url``):
    ``redis://[[username]:password@]host[:port][/db]`` (db 0 and port 6379 by default), ``rediss://``
    for TLS, or ``unix://[[username]:password@]/path/to/socket.sock?db=0``; a URL's connection
    gets ``timeout`` as its socket and connect timeouts. ``window``, ``max_gaps``,
    ``response_latency`` and ``horizon`` must match the CacheStates that share the store (the
    defaults do). Every failure raises :class:`~promptcache.state.StoreError`.
    """

    def __init__(self, client: Any, *, namespace: str = "promptcache", timeout: float = 0.005,
                 window: int = 8, max_gaps: int = 64, response_latency: float = 1.0,
                 horizon: float = 2 * 3600.0, layer_ttl: float = 7 * 86400.0) -> None:
        try:
            import redis
        except ImportError as e:  # pragma: no cover - the extra is installed in dev
            raise MissingDependencyError('RedisStateStore needs the redis package: pip install '
                                     '"promptcache[redis]".') from e
        self._redis = redis
        if isinstance(client, str):
            client = redis.Redis.from_url(client, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
        self.client = client
        self.ns = namespace
        self.window, self.max_gaps = window, max_gaps
        self.latency, self.horizon, self.layer_ttl = response_latency, horizon, layer_ttl
        self._entry_sha = self._sight_sha = ""

    # -- keys ----------------------------------------------------------------------------------

    def _entry_key(self, fingerprint: str) -> str:
        return f"{self.ns}:e:{fingerprint}"

    def _layer_keys(self, layer: str, content: str) -> tuple[str, str, str]:
        return (f"{self.ns}:s:{layer}:{content}", f"{self.ns}:l:{layer}", f"{self.ns}:g:{layer}")

    # -- the SharedStore protocol --------------------------------------------------------------

    def fetch(self, fingerprints: Sequence[str], layers: Sequence[tuple[str, str]], now: float,
              ) -> tuple[dict[str, CacheEntry], dict[str, LayerStats],
                         dict[tuple[str, str], tuple[float, float, int]]]:
        """One pipelined round trip: MGET of the entries, then per layer HMGET, LRANGE, GET."""
        try:
            pipe = self.client.pipeline(transaction=False)
            if fingerprints:
                pipe.mget([self._entry_key(fp) for fp in fingerprints])
            for layer, content in layers:
                seen_key, stats_key, gaps_key = self._layer_keys(layer, content)
                pipe.hmget(stats_key, ["n", "recent", "w", "nw"])
                pipe.lrange(gaps_key, 0, -1)
                pipe.get(seen_key)
            replies = pipe.execute()
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e
        entries: dict[str, CacheEntry] = {}
        k = 0
        if fingerprints:
            for fp, raw in zip(fingerprints, replies[0], strict=True):
                if raw is not None:
                    entries[fp] = _entry(fp, raw)
            k = 1
        stats: dict[str, LayerStats] = {}
        last: dict[tuple[str, str], tuple[float, float, int]] = {}
        for layer, content in layers:
            (n, recent, w, nw), gaps, seen = replies[k], replies[k + 1], replies[k + 2]
            k += 3
            if n is not None:
                stats[layer] = LayerStats(
                    sightings=int(n), recent=tuple(c == ord("1") for c in (recent or b"")),
                    gaps=tuple(float(g) for g in gaps), weight=float(w or 0),
                    new_weight=float(nw or 0))
            if seen is not None:
                at, gap, size = [*seen.decode().split("|"), "-1", "0"][:3]
                last[layer, content] = (float(at), float(gap), int(size))
        return entries, stats, last

    def push(self, entries: Sequence[CacheEntry], sightings: Sequence[Sighting], now: float
             ) -> None:
        """One pipelined round trip of server-side merges (scripts loaded again after a restart)."""
        try:
            try:
                self._push(entries, sightings, now)
            except self._redis.exceptions.NoScriptError:
                self._entry_sha = self._sight_sha = ""
                self._push(entries, sightings, now)
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e

    def _push(self, entries: Sequence[CacheEntry], sightings: Sequence[Sighting], now: float
              ) -> None:
        if not self._entry_sha:
            self._entry_sha = self.client.script_load(_ENTRY)
            self._sight_sha = self.client.script_load(_SIGHT)
        pipe = self.client.pipeline(transaction=False)
        for e in entries:
            pipe.evalsha(self._entry_sha, 1, self._entry_key(e.fingerprint), repr(now),
                         int(TTL_SECONDS[e.ttl]), e.tokens, repr(e.readable_at))
        for s in sightings:
            pipe.evalsha(self._sight_sha, 3, *self._layer_keys(s.layer, s.content), repr(s.at),
                         repr(self.latency), int(self.horizon * 1000), self.window,
                         self.max_gaps, repr(DECAY), int(self.layer_ttl * 1000), s.size)
        pipe.execute()

    def clear(self) -> None:
        """Delete every key of this namespace (tests, benchmarks)."""
        try:
            keys = list(self.client.scan_iter(match=f"{self.ns}:*", count=1000))
            if keys:
                self.client.delete(*keys)
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e


def _entry(fingerprint: str, raw: bytes) -> CacheEntry:
    written, refreshed, ttl, tokens, readable = raw.decode().split("|")
    return CacheEntry(fingerprint=fingerprint, written_at=float(written),
                      refreshed_at=float(refreshed), ttl=_TTL_BY_SECONDS.get(int(ttl), "5m"),
                      tokens=int(tokens), readable_at=float(readable))
