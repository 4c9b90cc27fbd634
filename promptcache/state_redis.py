"""A fleet's shared planner state on Redis: warm entries and per-layer reuse statistics.

Give every worker of a service its own :class:`~promptcache.CacheState` over one store::

    state = CacheState(shared=RedisStateStore("redis://cache-host:6379/0"))

so that any worker reads what another wrote, bridges the lookback to it, and learns TTLs and
volatile layers from the whole fleet's traffic. Requires the ``redis`` package
(``pip install "promptcache[redis]"``).

What it costs a request: planning is **one** pipelined round trip (the entries at the candidate
positions, each layer's statistics and content sighting, the fleet's write-latency bounds and,
at most once a second, its first-write prior);
recording a sent request with :func:`promptcache.record_sent` is **one** more (every write and
sighting in one pipeline of server-side scripts, which merge atomically: a read keeps the entry's
own TTL, concurrent writers keep the earliest readable time; the scripts count rates, gaps, the
TTL duel and conversations starting together with the same arithmetic as one process, and add
each reuse gap to the fleet's first-write prior of the layer's class, which the planning round
trip reads back: :mod:`promptcache.state_prior`). Learning
from a response is local unless it taught what only the provider knows (a write was readable
sooner, or later, than believed): then **one** round trip shares it
(:class:`~promptcache.state.FleetLessons`), so no other worker marks a write still in flight as
readable. Each call has one deadline,
:data:`DEADLINE` (0.25 s) by default, for the whole call (connecting, every reply of the
pipeline, reloading the scripts; no retries inside it): sized above the slowest call of a healthy
Redis on a loaded machine, so only a server that is down, paused or unreachable trips it. Then
the state plans from its local view (a warning, repeated at most once a minute per cause) and
tries the store again after a backoff (1 s, doubling to 60 s while it keeps failing). A
``redis.Redis`` you pass yourself keeps its own timeouts.

Anything can be left in a shared Redis (another version, an operator, a bug): every value read is
parsed defensively. A key that does not parse (garbage, bytes that are not text, a number that is
not finite, a key of the wrong Redis type) is treated as absent, with a ``CacheWarning`` at most
once a minute per kind of key, and the scripts overwrite it on the next write instead of failing
on it: a poisoned key never makes ``optimize()`` raise or takes the store out of use.

Memory in Redis: an entry key per written prefix, expiring with its TTL (Redis key expiry); a
last-seen key per layer content, expiring after the horizon (2 h); per layer one small hash and a
list of at most ``max_gaps`` gaps, expiring a week after the layer was last seen; one hash of the
fleet's prior (at most 44 classes of :data:`~promptcache.state_model.PRIOR_GAPS` gaps, about 30 KB),
expiring a week after its last gap. So the store holds
what the fleet wrote in the last hour and saw in the last two; bound it further with
``maxmemory`` and ``maxmemory-policy volatile-lru`` (every key here has an expiry).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from promptcache._redis import client_from_url, deadline, import_redis
from promptcache.errors import CacheWarning
from promptcache.limits import TTL_SECONDS
from promptcache.state_duel import DUEL_KEEP, READ, WRITE, Duel
from promptcache.state_model import (
    DECAY,
    OWN_KEEP,
    OWN_TTLS,
    PRIOR_GAPS,
    SETTLE_AFTER,
    CacheEntry,
    LayerStats,
    Sighting,
)
from promptcache.state_prior import PRIOR_FIELDS, class_field, parse_gaps
from promptcache.state_store import StoreError, WarnLimiter

__all__ = ["DEADLINE", "RedisStateStore"]

#: Each call's default deadline (seconds, the whole call): above the slowest call of a healthy
#: Redis on a loaded machine (8 workers on 2 cores at a load average of 13-17: 32 ms median, 137 ms
#: p99.9, 168 ms max; ``docs/benchmarks.md``), so only a server that is down, paused or
#: unreachable trips it; such a server costs one deadline per retry (see ``CacheState``'s backoff).
DEADLINE = 0.25

_TTL_BY_SECONDS = {int(s): name for name, s in TTL_SECONDS.items()}
#: How often (seconds of the caller's clock) :meth:`RedisStateStore.fetch` reads the fleet's prior.
PRIOR_EVERY = 1.0

# A number Lua can trust: nil for anything that is not a finite number (garbage, nan, inf).
_NUM = """
local function num(s)
  if s == nil or s == false then return nil end
  local x = tonumber(s)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then return nil end
  return x
end
local function only(key, kind)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= kind then redis.call('DEL', key) end
end
"""

# KEYS[1] entry. ARGV: now, ttl seconds, tokens, readable_at. An old value that does not parse is
# overwritten, never an error.
_ENTRY = _NUM + """
local ttls = {""" + ", ".join(f"[{int(v)}] = true" for v in TTL_SECONDS.values()) + """}
local now = num(ARGV[1]); local ttl = num(ARGV[2]); local readable = num(ARGV[4])
local written = now
only(KEYS[1], 'string')
local old = redis.call('GET', KEYS[1])
if old then
  local w, r, t, k, rd = string.match(old, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  w, r, t, rd = num(w), num(r), num(t), num(rd)
  if w and r and t and rd and num(k) and ttls[t] and now < r + t then
    written = w; ttl = t; readable = math.min(rd, readable)
  end
end
redis.call('SET', KEYS[1], string.format('%.6f|%.6f|%d|%d|%.6f', written, now, ttl,
           tonumber(ARGV[3]), readable), 'PX', math.floor(ttl * 1000))
return 1
"""

# The duel's fixed policies, in the order of the layer hash's duel fields: (ttl, seconds, write).
_DUEL = tuple((ttl, int(TTL_SECONDS[ttl]), WRITE[ttl]) for ttl in sorted(WRITE))
#: The layer hash's fields, in the order fetch reads them: the rate of new content, when the layer
#: was last sighted (``at``), and the duel's decayed counters (see :mod:`promptcache.state_duel`):
#: reuses and sightings counted (``ds``, ``dn``), then per policy its hits and what it paid, then
#: the new contents sighted concurrently and not yet counted, and since when (``dc``, ``da``; see
#: :func:`promptcache.state_model.settled`), then per TTL of the own-gap test (see
#: :attr:`promptcache.state_model.LayerStats.own_pairs`, in its order) its four decayed counts.
_OWN = tuple((ttl, int(TTL_SECONDS[ttl])) for ttl in OWN_TTLS)
_OWN_FIELDS = tuple(f"o{t}{c}" for t, _ in _OWN for c in ("n", "x", "y", "xy"))
_FIELDS = ("n", "recent", "w", "nw", "at", "ds", "dn",
           *(f"dh{t}" for t, _, _ in _DUEL), *(f"dp{t}" for t, _, _ in _DUEL), "dc", "da",
           *_OWN_FIELDS)

# KEYS[1] content last-seen, KEYS[2] layer hash, KEYS[3] layer gaps, KEYS[4] the fleet's prior.
# ARGV: now, latency, horizon ms, window, max gaps, decay, layer ttl ms, request size, the layer's
# prior class field ('': none), gaps kept per class.
# A key of the wrong type, a hash with a field that does not parse, a gap that is not a number:
# that key starts over, never an error. The same arithmetic as CacheState._sight and sighted():
# one process and a fleet sharing this store learn alike.
_SIGHT = _NUM + """
local DUEL = {""" + ", ".join(f"{{'{t}', {s}, {w!r}}}" for t, s, w in _DUEL) + """}
local KEEP = """ + repr(DUEL_KEEP) + """; local READ = """ + repr(READ) + """
local SETTLE = """ + repr(SETTLE_AFTER) + """; local OWNKEEP = """ + repr(OWN_KEEP) + """
local OWN = {""" + ", ".join(f"{{'{t}', {sec}}}" for t, sec in _OWN) + """}
local now = num(ARGV[1]); local latency = num(ARGV[2])
only(KEYS[1], 'string'); only(KEYS[2], 'hash'); only(KEYS[3], 'list')
local raw = redis.call('GET', KEYS[1])
local last, own, run = nil, '-1', nil
if raw then
  local a, g, _, r = string.match(raw, '^([^|]+)|([^|]+)|?([^|]*)|?([^|]*)')
  last = num(a)
  if last and num(g) then own = g end
  if last and r ~= nil and r ~= '' then run = num(r) end
end
local previous = num(own)
local f = redis.call('HMGET', KEYS[2], """ + ", ".join(f"'{x}'" for x in _FIELDS) + """)
local n = num(f[1] or '0'); local recent = f[2] or ''
local w0 = num(f[3] or '0'); local nw0 = num(f[4] or '0')
local lastat = nil
if f[5] then lastat = num(f[5]) end
local ds = num(f[6] or '0'); local dn = num(f[7] or '0')
local ok = n and w0 and nw0 and ds and dn and n >= 0 and w0 >= 0 and nw0 >= 0 and ds >= 0
           and dn >= 0 and n == math.floor(n) and string.match(recent, '^[01]*$')
           and (f[5] == false or lastat ~= nil)
local dh, dp = {}, {}
for i = 1, #DUEL do
  dh[i] = num(f[7 + i] or '0'); dp[i] = num(f[7 + #DUEL + i] or '0')
  if not (dh[i] and dp[i] and dh[i] >= 0 and dp[i] >= 0) then ok = false end
end
local dc = num(f[8 + 2 * #DUEL] or '0'); local da = nil
if f[9 + 2 * #DUEL] then da = num(f[9 + 2 * #DUEL]) end
if not (dc and dc >= 0 and dc == math.floor(dc) and (f[9 + 2 * #DUEL] == false or da ~= nil)) then
  ok = false
end
local op = {}
for i = 1, 4 * #OWN do
  op[i] = num(f[9 + 2 * #DUEL + i] or '0')
  if not (op[i] and op[i] >= 0) then ok = false end
end
if not ok then
  redis.call('DEL', KEYS[2]); n = 0; recent = ''; w0 = 0; nw0 = 0; lastat = nil; ds = 0; dn = 0
  dc = 0; da = nil
  for i = 1, #DUEL do dh[i] = 0; dp[i] = 0 end
  for i = 1, 4 * #OWN do op[i] = 0 end
end
-- New contents sighted together count as new once they have had time to go on (settled()).
if dc > 0 and da ~= nil and now - da >= SETTLE then
  local keep = 1 - 1 / tonumber(ARGV[6])
  for _ = 1, dc do w0 = w0 * keep + 1; nw0 = nw0 * keep + 1 end
  recent = string.sub(recent .. string.rep('1', dc), -tonumber(ARGV[4]))
  redis.call('HSET', KEYS[2], 'recent', recent, 'w', tostring(w0), 'nw', tostring(nw0))
  redis.call('HDEL', KEYS[2], 'dc', 'da'); dc = 0; da = nil
end
for _, g in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  local x = num(g)
  if not x or x < 0 then redis.call('DEL', KEYS[3]); break end
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
-- When the run of sightings this one ends began (each sooner than the latency after the last).
if new == 1 or gap >= latency or run == nil then run = now end
redis.call('SET', KEYS[1], at .. '|' .. own .. '|' .. ARGV[8] .. '|' .. tostring(run), 'PX',
           ARGV[3])
-- A repeat sooner than the latency could not read the entry in flight (unless it ends a run
-- longer than the latency: a burst reads its first write), and new contents that soon after the
-- layer's last sighting are conversations starting together: concurrency.
local concurrent = new == 0 and gap ~= nil and gap < latency and now - run < latency
if new == 1 and lastat ~= nil and now - lastat >= 0 and now - lastat < latency then
  concurrent = true
  if n > 0 then
    if da == nil then redis.call('HSET', KEYS[2], 'da', ARGV[1]) end
    redis.call('HSET', KEYS[2], 'dc', tostring(dc + 1))
  end
end
if n > 0 and not concurrent then
  local bits = string.sub(recent .. new, -tonumber(ARGV[4]))
  local keep = 1 - 1 / tonumber(ARGV[6])
  local w = w0 * keep + 1
  local nw = nw0 * keep + new
  redis.call('HSET', KEYS[2], 'recent', bits, 'w', tostring(w), 'nw', tostring(nw))
end
if new == 0 and gap ~= nil and gap >= latency then
  redis.call('RPUSH', KEYS[3], tostring(gap))
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[5]), -1)
  if previous ~= nil and previous >= 0 then
    -- Did this content's previous gap foretell this one? (the fleet's, as one process counts it)
    local out = {}
    for i, o in ipairs(OWN) do
      local x = previous <= o[2]; local y = gap <= o[2]
      local j = 4 * (i - 1)
      local vals = {op[j + 1] * OWNKEEP + 1, op[j + 2] * OWNKEEP + (x and 1 or 0),
                    op[j + 3] * OWNKEEP + (y and 1 or 0), op[j + 4] * OWNKEEP + ((x and y) and 1 or 0)}
      for c, name in ipairs({'n', 'x', 'y', 'xy'}) do
        table.insert(out, 'o' .. o[1] .. name); table.insert(out, tostring(vals[c]))
      end
    end
    redis.call('HSET', KEYS[2], unpack(out))
  end
end
if lastat == nil or now > lastat then redis.call('HSET', KEYS[2], 'at', ARGV[1]) end
if new == 1 or gap >= latency then
  -- The duel: each fixed policy's entry served this reuse when the gap was shorter than its TTL.
  local out = {}
  for i, d in ipairs(DUEL) do
    local served = new == 0 and gap < d[2]
    if new == 0 then dh[i] = dh[i] * KEEP + (served and 1 or 0) end
    dp[i] = dp[i] * KEEP + (served and READ or d[3])
    table.insert(out, 'dh' .. d[1]); table.insert(out, tostring(dh[i]))
    table.insert(out, 'dp' .. d[1]); table.insert(out, tostring(dp[i]))
  end
  if new == 0 then ds = ds * KEEP + 1 end
  dn = dn * KEEP + 1
  redis.call('HSET', KEYS[2], 'ds', tostring(ds), 'dn', tostring(dn), unpack(out))
end
if ARGV[9] ~= '' and new == 0 and gap >= latency then
  -- The gap joins its class's prior (state_prior): the last few, a class that does not parse
  -- (too long, a gap that is no number or beyond the horizon) starting over.
  only(KEYS[4], 'hash')
  local most = tonumber(ARGV[10])
  local raw = redis.call('HGET', KEYS[4], ARGV[9])
  local kept = {}
  if raw and #raw <= most * 32 then
    for g in string.gmatch(raw, '[^,]+') do
      local x = num(g)
      if not x or x < 0 or x * 1000 > tonumber(ARGV[3]) then kept = {}; break end
      table.insert(kept, g)
    end
  end
  table.insert(kept, tostring(gap))
  while #kept > most do table.remove(kept, 1) end
  redis.call('HSET', KEYS[4], ARGV[9], table.concat(kept, ','))
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
end
redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[7]); redis.call('PEXPIRE', KEYS[3], ARGV[7])
return new
"""

# KEYS[1] entry. ARGV: written_at, readable_at. The same write only (its sent time), kept with its
# expiry: a read showed it readable sooner, or a miss that it was still in flight.
_READABLE = _NUM + """
only(KEYS[1], 'string')
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local w, r, t, k, rd = string.match(old, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
local written = num(ARGV[1]); local readable = num(ARGV[2])
if not (num(w) and num(r) and num(t) and num(k) and num(rd)) or not written or not readable
   or math.abs(num(w) - written) > 1e-6 then return 0 end
redis.call('SET', KEYS[1], string.format('%s|%s|%s|%s|%.6f', w, r, t, k, readable), 'KEEPTTL')
return 1
"""

# KEYS[1] the fleet's latency hash. ARGV: the starting high bound, layer ttl ms, how many reads,
# the reads, then the misses (seconds after sending). LatencyBounds' rules, server-side.
_LATENCY = _NUM + """
only(KEYS[1], 'hash')
local low = num(redis.call('HGET', KEYS[1], 'low')); local high = num(redis.call('HGET', KEYS[1], 'high'))
if not (low and high and low >= 0 and high >= low) then low = 0; high = num(ARGV[1]) end
local reads = tonumber(ARGV[3])
for i = 4, #ARGV do
  local d = num(ARGV[i])
  if d and d >= 0 then
    if i < 4 + reads then
      if d < high then high = math.max(d, 1e-3); low = math.min(low, 0.9 * high) end
    elseif d > low then low = d; high = math.max(high, 1.25 * d) end
  end
end
redis.call('HSET', KEYS[1], 'low', tostring(low), 'high', tostring(high))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {tostring(low), tostring(high)}
"""

#: What a value read back can raise while it is parsed: each means "malformed", never an error.
_BAD = (ValueError, TypeError, UnicodeDecodeError, AttributeError, KeyError, OverflowError)


class RedisStateStore:
    """A :class:`~promptcache.state.SharedStore` (and :class:`~promptcache.state.FleetLessons`)
    on Redis (see the module docstring).

    ``client`` is a ``redis.Redis`` or a URL in redis-py's form (``Redis.from_url``):
    ``redis://[[username]:password@]host[:port][/db]`` (db 0 and port 6379 by default),
    ``rediss://`` for TLS, or ``unix://[[username]:password@]/path/to/socket.sock?db=0``.
    ``timeout`` is each call's deadline (with a URL; :data:`DEADLINE` by default). ``window``, ``max_gaps``,
    ``response_latency`` and ``horizon`` must match the CacheStates that share the store (the
    defaults do). Every failure raises :class:`~promptcache.state.StoreError`; a malformed value
    is never a failure (it is absent). ``namespace`` is taken literally: ``clear()`` of ``acme``
    never touches ``acme:x``'s keys.
    """

    def __init__(self, client: Any, *, namespace: str = "promptcache", timeout: float = DEADLINE,
                 window: int = 8, max_gaps: int = 64, response_latency: float = 1.0,
                 horizon: float = 2 * 3600.0, layer_ttl: float = 7 * 86400.0,
                 warn_every: float = 60.0) -> None:
        self._redis = import_redis()
        if isinstance(client, str):
            client = client_from_url(client, timeout=timeout)
        self.client = client
        self.timeout = timeout
        self.ns = namespace
        self._prefix = _key_escape(namespace)
        self.window, self.max_gaps = window, max_gaps
        self.latency, self.horizon, self.layer_ttl = response_latency, horizon, layer_ttl
        self._shas: dict[str, str] = {}
        self._bounds: tuple[float, float] | None = None
        self._priors: dict[tuple[str, int], tuple[float, ...]] = {}
        self._prior_raw: dict[str, tuple[bytes, tuple[float, ...]]] = {}
        self._prior_at = -math.inf
        self._warnings = WarnLimiter(warn_every)

    # -- keys ----------------------------------------------------------------------------------

    def _entry_key(self, fingerprint: str) -> str:
        return f"{self._prefix}:e:{fingerprint}"

    def _latency_key(self) -> str:
        return f"{self._prefix}:f:latency"

    def _prior_key(self) -> str:
        return f"{self._prefix}:f:prior"

    def _layer_keys(self, layer: str, content: str) -> tuple[str, str, str]:
        ns = self._prefix
        return (f"{ns}:s:{layer}:{content}", f"{ns}:l:{layer}", f"{ns}:g:{layer}")

    def _malformed(self, kind: str, key: str, problem: object) -> None:
        if self._warnings.due(kind):
            warnings.warn(CacheWarning(
                f"The shared cache state holds a malformed {kind} {key!r} ({problem}); promptcache "
                f"treats it as absent and overwrites it on the next write. (Said again at most "
                f"every {self._warnings.every:g} s per kind of key.)",
                rule="shared-state-malformed"), stacklevel=5)

    # -- the SharedStore protocol --------------------------------------------------------------

    def fetch(self, fingerprints: Sequence[str], layers: Sequence[tuple[str, str]], now: float,
              ) -> tuple[dict[str, CacheEntry], dict[str, LayerStats],
                         dict[tuple[str, str], tuple[float, float, int]]]:
        """One pipelined round trip: MGET of the entries, then per layer HMGET, LRANGE, GET.

        A reply that does not parse (or a key of the wrong type) is left out, never raised.
        """
        try:
            with deadline(self.timeout):
                pipe = self.client.pipeline(transaction=False)
                if fingerprints:
                    pipe.mget([self._entry_key(fp) for fp in fingerprints])
                for layer, content in layers:
                    seen_key, stats_key, gaps_key = self._layer_keys(layer, content)
                    pipe.hmget(stats_key, list(_FIELDS))
                    pipe.lrange(gaps_key, 0, -1)
                    pipe.get(seen_key)
                pipe.hmget(self._latency_key(), ["low", "high"])
                # The prior changes slowly and only first writes use it: read at most once a
                # second of the caller's clock (44 fields cost a plan ~60 µs).
                prior = not 0 <= now - self._prior_at < PRIOR_EVERY
                if prior:
                    pipe.hmget(self._prior_key(), list(PRIOR_FIELDS))
                replies = pipe.execute(raise_on_error=False)
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e
        except OSError as e:  # a socket failure redis-py did not wrap
            raise StoreError(f"redis: {e}") from e
        entries: dict[str, CacheEntry] = {}
        k = 0
        if fingerprints:
            found = replies[0]
            if isinstance(found, list) and len(found) == len(fingerprints):
                for fp, raw in zip(fingerprints, found, strict=True):
                    if raw is None:
                        continue
                    try:
                        entries[fp] = _entry(fp, raw)
                    except _BAD as e:
                        self._malformed("entry", self._entry_key(fp), e)
            else:
                self._malformed("entry reply", self._entry_key(fingerprints[0]), found)
            k = 1
        stats: dict[str, LayerStats] = {}
        last: dict[tuple[str, str], tuple[float, float, int]] = {}
        for layer, content in layers:
            fields, gaps, seen = replies[k], replies[k + 1], replies[k + 2]
            k += 3
            seen_key, stats_key, _ = self._layer_keys(layer, content)
            try:
                parsed = _stats(fields, gaps)
            except _BAD as e:
                self._malformed("layer statistics", stats_key, e)
            else:
                if parsed is not None:
                    stats[layer] = parsed
            if seen is not None:
                try:
                    last[layer, content] = _seen(seen)
                except _BAD as e:
                    self._malformed("content sighting", seen_key, e)
        try:
            self._bounds = _bounds(replies[k])
        except _BAD as e:
            self._malformed("latency bounds", self._latency_key(), e)
        if prior:
            self._prior_at = now
            self._read_priors(replies[k + 1])
        return entries, stats, last

    def _read_priors(self, raw: object) -> None:
        """The fleet's prior from its HMGET reply; a class that does not parse is absent. A class
        whose bytes did not change since the last fetch is not parsed again."""
        if isinstance(raw, Exception) or not isinstance(raw, list) \
                or len(raw) != len(PRIOR_FIELDS):
            self._malformed("gap prior", self._prior_key(), raw)
            self._priors, self._prior_raw = {}, {}
            return
        priors: dict[tuple[str, int], tuple[float, ...]] = {}
        seen: dict[str, tuple[bytes, tuple[float, ...]]] = {}
        for name, value in zip(PRIOR_FIELDS, raw, strict=True):
            if value is None:
                continue
            old = self._prior_raw.get(name)
            if old is not None and old[0] == value:
                gaps = old[1]
            else:
                try:
                    gaps = parse_gaps(value, most=PRIOR_GAPS, horizon=self.horizon)
                except _BAD as e:
                    self._malformed("gap prior", f"{self._prior_key()} {name}", e)
                    continue
            seen[name] = (value, gaps)
            priors[PRIOR_FIELDS[name]] = gaps
        self._priors, self._prior_raw = priors, seen

    def gap_priors(self) -> Mapping[tuple[str, int], tuple[float, ...]]:
        """The fleet's first-write prior as the last :meth:`fetch` read it (see
        :class:`~promptcache.state_prior.FleetPriors`; empty: none read yet)."""
        return self._priors

    def latency_bounds(self) -> tuple[float, float] | None:
        """The fleet's write-latency bounds as the last :meth:`fetch` read them (None: none)."""
        return self._bounds

    def learn(self, entries: Sequence[CacheEntry], reads: Sequence[float],
              misses: Sequence[float], now: float) -> tuple[float, float] | None:
        """One pipelined round trip: correct ``entries``' readable times, fold ``reads`` and
        ``misses`` into the fleet's latency bounds; returns the bounds after them."""
        try:
            with deadline(self.timeout):
                replies = self._run(lambda pipe: self._learn(pipe, entries, reads, misses))
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e
        except OSError as e:
            raise StoreError(f"redis: {e}") from e
        try:
            self._bounds = _bounds(replies[-1])
        except _BAD as e:
            self._malformed("latency bounds", self._latency_key(), e)
        return self._bounds

    def _learn(self, pipe: Any, entries: Sequence[CacheEntry], reads: Sequence[float],
               misses: Sequence[float]) -> None:
        for e in entries:
            pipe.evalsha(self._shas["readable"], 1, self._entry_key(e.fingerprint),
                         repr(e.written_at), repr(e.readable_at))
        pipe.evalsha(self._shas["latency"], 1, self._latency_key(), repr(self.latency),
                     int(self.layer_ttl * 1000), len(reads), *map(repr, reads),
                     *map(repr, misses))

    def push(self, entries: Sequence[CacheEntry], sightings: Sequence[Sighting], now: float
             ) -> None:
        """One pipelined round trip of server-side merges (scripts loaded again after a restart)."""
        try:
            with deadline(self.timeout):
                self._run(lambda pipe: self._push(pipe, entries, sightings, now))
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e
        except OSError as e:
            raise StoreError(f"redis: {e}") from e

    def _run(self, fill: Any) -> list[Any]:
        """A pipeline of script calls made by ``fill(pipe)``; the scripts loaded first (one round
        trip, once per connection to a server) and again after a restart emptied its cache."""
        for attempt in (0, 1):
            if not self._shas:
                pipe = self.client.pipeline(transaction=False)
                for body in _SCRIPTS.values():
                    pipe.script_load(body)
                self._shas = dict(zip(_SCRIPTS, pipe.execute(), strict=True))
            pipe = self.client.pipeline(transaction=False)
            fill(pipe)
            try:
                return list(pipe.execute())
            except self._redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self._shas = {}
        raise AssertionError("unreachable")  # pragma: no cover

    def _push(self, pipe: Any, entries: Sequence[CacheEntry], sightings: Sequence[Sighting],
              now: float) -> None:
        for e in entries:
            pipe.evalsha(self._shas["entry"], 1, self._entry_key(e.fingerprint), repr(now),
                         int(TTL_SECONDS[e.ttl]), e.tokens, repr(e.readable_at))
        for s in sightings:
            pipe.evalsha(self._shas["sight"], 4, *self._layer_keys(s.layer, s.content),
                         self._prior_key(), repr(s.at), repr(self.latency),
                         int(self.horizon * 1000), self.window, self.max_gaps, repr(DECAY),
                         int(self.layer_ttl * 1000), s.size, class_field(s.prior_class),
                         PRIOR_GAPS)

    def clear(self) -> None:
        """Delete every key of this namespace, and only those (tests, benchmarks).

        The namespace is escaped for ``SCAN MATCH``: ``*``, ``?``, ``[`` in it match themselves,
        and a ``:`` in a namespace is escaped in its keys (see :func:`_key_escape`), so namespace
        ``acme`` leaves ``acme:x``'s keys alone.
        """
        pattern = _glob_escape(self._prefix) + ":[eslgf]:*"
        try:
            cursor: Any = 0
            while True:
                with deadline(max(self.timeout, 1.0)):
                    cursor, names = self.client.scan(cursor=cursor, match=pattern, count=1000)
                    if names:
                        self.client.delete(*names)
                if not cursor:
                    break
        except self._redis.RedisError as e:
            raise StoreError(f"redis: {e}") from e


_SCRIPTS = {"entry": _ENTRY, "sight": _SIGHT, "readable": _READABLE, "latency": _LATENCY}


def _bounds(raw: object) -> tuple[float, float] | None:
    """The fleet's ``(low, high)`` latency bounds from an HMGET or the learning script's reply."""
    if isinstance(raw, Exception):
        raise ValueError(str(raw))
    if not isinstance(raw, list) or len(raw) != 2:
        raise TypeError(f"unexpected reply {raw!r:.40}")
    if raw[0] is None or raw[1] is None:
        return None
    low, high = _finite(raw[0]), _finite(raw[1])
    if not 0 <= low <= high:
        raise ValueError(f"bounds {low}, {high} out of order")
    return low, high


def _glob_escape(text: str) -> str:
    """``text`` as a Redis glob pattern that matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _key_escape(namespace: str) -> str:
    """``namespace`` with ``\\`` and ``:`` backslash-escaped, as the first part of every key.

    Then the first unescaped ``:`` of a key ends its namespace, so no namespace's keys start
    with another's (``acme:`` never begins a key of ``acme:x``, which begin ``acme\\:x:``); a
    namespace without either character keeps the keys it always had.
    """
    return namespace.replace("\\", "\\\\").replace(":", "\\:")


def _finite(raw: bytes | str | None) -> float:
    value = float(raw.decode("ascii") if isinstance(raw, bytes) else raw)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def _count(raw: bytes | str | None) -> int:
    value = int(raw.decode("ascii") if isinstance(raw, bytes) else raw)  # type: ignore[arg-type]
    if value < 0:
        raise ValueError(f"{raw!r} is negative")
    return value


def _entry(fingerprint: str, raw: object) -> CacheEntry:
    if not isinstance(raw, bytes):
        raise TypeError(f"a {type(raw).__name__}, not bytes")
    written, refreshed, ttl, tokens, readable = raw.decode("ascii").split("|")
    seconds = _count(ttl)
    if seconds not in _TTL_BY_SECONDS:
        raise ValueError(f"TTL {seconds} s is none of {sorted(_TTL_BY_SECONDS)}")
    return CacheEntry(fingerprint=fingerprint, written_at=_finite(written),
                      refreshed_at=_finite(refreshed), ttl=_TTL_BY_SECONDS[seconds],
                      tokens=_count(tokens), readable_at=_finite(readable))


def _stats(fields: object, gaps: object) -> LayerStats | None:
    """A layer's statistics from its hash fields and gap list (None: the layer has none)."""
    if isinstance(fields, Exception):
        raise ValueError(str(fields))  # e.g. WRONGTYPE: the hash key is not a hash
    if not isinstance(fields, list) or len(fields) != len(_FIELDS):
        raise TypeError(f"unexpected reply {fields!r:.40}")
    n, recent, w, nw, at, ds, dn = fields[:7]
    dc, da = fields[7 + 2 * len(_DUEL):9 + 2 * len(_DUEL)]
    if n is None:
        return None
    if isinstance(gaps, Exception):
        raise ValueError(str(gaps))
    if not isinstance(gaps, list):
        raise TypeError(f"unexpected gaps {gaps!r:.40}")
    bits = recent or b""
    if not isinstance(bits, bytes) or bits.strip(b"01"):
        raise ValueError(f"recent {bits!r:.40} is not a string of 0s and 1s")
    weight, new_weight = _finite(w or b"0"), _finite(nw or b"0")
    if weight < 0 or new_weight < 0:
        raise ValueError("negative weights")
    parsed = tuple(_finite(g) for g in gaps)
    if any(g < 0 for g in parsed):
        raise ValueError("a negative gap")
    return LayerStats(sightings=_count(n), recent=tuple(c == ord("1") for c in bits),
                      gaps=parsed, weight=weight, new_weight=new_weight,
                      last_at=None if at is None else _finite(at),
                      duel=_duel(ds, dn, fields[7:7 + 2 * len(_DUEL)]),
                      deferred=_count(dc or b"0"),
                      deferred_at=None if da is None else _finite(da),
                      own_pairs=_own_pairs(fields[9 + 2 * len(_DUEL):]))


def _own_pairs(counts: Sequence[object]) -> tuple[tuple[float, float, float, float], ...]:
    """The own-gap test's counts per TTL from the hash fields (empty: none counted yet)."""
    if all(c is None for c in counts):
        return ()
    values = [_finite(c or b"0") for c in counts]  # type: ignore[arg-type]
    if any(v < 0 for v in values):
        raise ValueError("negative own-gap counts")
    return tuple((values[k], values[k + 1], values[k + 2], values[k + 3])
                 for k in range(0, len(values), 4))


def _duel(ds: object, dn: object, counters: Sequence[object]) -> Duel | None:
    """The layer's duel from its hash fields (None: a store that has not counted one yet)."""
    if dn is None:
        return None
    samples, sightings = _finite(ds or b"0"), _finite(dn)  # type: ignore[arg-type]
    values = [_finite(c or b"0") for c in counters]  # type: ignore[arg-type]
    if samples < 0 or sightings < 0 or any(v < 0 for v in values):
        raise ValueError("negative duel counters")
    ttls = [t for t, _, _ in _DUEL]
    hits = tuple(zip(ttls, values[:len(ttls)], strict=True)) if samples > 0 else ()
    paid = tuple(zip(ttls, values[len(ttls):], strict=True))
    return Duel(hits=hits, samples=samples, paid=paid, sightings=sightings)


def _seen(raw: object) -> tuple[float, float, int]:
    """A content's last sighting: when, its last reuse gap (-1: none), the request's size."""
    if isinstance(raw, Exception):
        raise ValueError(str(raw))
    if not isinstance(raw, bytes):
        raise TypeError(f"a {type(raw).__name__}, not bytes")
    at, gap, size = [*raw.decode("ascii").split("|"), "-1", "0"][:3]
    return _finite(at), _finite(gap), _count(size)
