"""The first-write prior kept in a fleet's Redis store: a restarted process or a new worker takes
its first write's TTL from what the fleet saw of layers like it, and a poisoned prior is ignored.

Over a real ``redis-server`` and the real Anthropic cache simulator (the TTLs asserted are the
ones the simulator was sent).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import redis

from promptcache import CacheState, CacheWarning, optimize
from promptcache.clock import ManualClock
from promptcache.plan import Plan
from promptcache.prompt import Prompt
from promptcache.providers.anthropic.render import record_sent, render_anthropic
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.state_redis import RedisStateStore

from .._prior_apps import catalogue, handbook, ttl_of

pytestmark = pytest.mark.redis





def _state(url: str, namespace: str, clock: ManualClock) -> CacheState:
    """A fresh process's state on the fleet's store."""
    return CacheState(clock=clock, shared=RedisStateStore(url, namespace=namespace))


def _send(state: CacheState, sim: AnthropicCacheSimulator, prompt: Prompt, now: float) -> Plan:
    plan = optimize(prompt, state=state, now=now)
    usage = sim.create(render_anthropic(prompt, plan), now=now).usage
    record_sent(state, prompt, plan, now=now,
                read_tokens=int(usage.get("cache_read_input_tokens") or 0))
    return plan


def _teach(url: str, namespace: str, clock: ManualClock, sim: AnthropicCacheSimulator) -> float:
    """One process sends app A's catalogue every 20 minutes, then goes away; returns the time."""
    teacher = _state(url, namespace, clock)
    for n in range(4):
        clock.set(n * 1_200.0)
        _send(teacher, sim, catalogue(n), n * 1_200.0)
    return 4 * 1_200.0 + 60.0


def test_a_fresh_process_takes_the_fleets_prior_for_its_first_write(redis_url: str) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    now = _teach(redis_url, "prior-restart", clock, sim)
    clock.set(now)
    fresh = _state(redis_url, "prior-restart", clock)  # restarted: nothing local
    first = _send(fresh, sim, handbook(0), now)
    # Its layer has no gap anywhere yet; static layers of its size came back after 20 minutes.
    assert ttl_of(first, "system") == "1h"
    clock.set(now + 1_500.0)
    assert _send(fresh, sim, handbook(1), now + 1_500.0).expected.cache_read_tokens > 25_000


def test_a_live_worker_learns_the_prior_from_another_workers_traffic(redis_url: str) -> None:
    """The prior is read again as the clock moves on: worker B, up before A's traffic, still
    takes what A's traffic taught for its own first write."""
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    worker = _state(redis_url, "prior-live", clock)
    assert ttl_of(optimize(handbook(0), state=worker, now=0.0), "system") == "5m"  # nothing yet
    now = _teach(redis_url, "prior-live", clock, sim)
    assert ttl_of(optimize(handbook(0), state=worker, now=now), "system") == "1h"


def test_another_namespace_shares_no_prior(redis_url: str) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    now = _teach(redis_url, "prior-ours", clock, sim)
    other = _state(redis_url, "prior-theirs", clock)
    assert ttl_of(optimize(handbook(0), state=other, now=now), "system") == "5m"
    ours = _state(redis_url, "prior-ours", clock)
    assert ttl_of(optimize(handbook(0), state=ours, now=now), "system") == "1h"


@pytest.mark.parametrize("value", [b"garbage", b"1200,nan", b"-5,1200", b"1200,1e9",
                                   b",".join([b"1200"] * 100), b"\xff\xfe"])
def test_a_corrupt_prior_is_ignored_with_a_warning_and_started_over(
        redis_url: str, value: bytes) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    space = f"prior-corrupt-{abs(hash(value))}"
    now = _teach(redis_url, space, clock, sim)
    client = redis.Redis.from_url(redis_url)
    key = f"{space}:f:prior"
    fields = client.hkeys(key)
    assert fields  # the teacher's gaps are there, under their class
    for name in fields:
        client.hset(key, name, value)
    fresh = _state(redis_url, space, clock)
    with pytest.warns(CacheWarning, match="gap prior"):
        plan = optimize(handbook(0), state=fresh, now=now)
    # Not misled: no fleet prior, none local, so the hint's 5m; the store is still in use.
    assert ttl_of(plan, "system") == "5m"
    assert fresh.lookup((), now, [("tools", "")])[1]["tools"].sightings == 4
    # The next gap of the class starts it over: another fresh process reads it without a word.
    clock.set(5 * 1_200.0)
    with pytest.warns(CacheWarning, match="gap prior"):  # its plan still read the corrupt one
        _send(_state(redis_url, space, clock), sim, catalogue(5), 5 * 1_200.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        plan = optimize(handbook(0), state=_state(redis_url, space, clock), now=5 * 1_200.0)
    assert ttl_of(plan, "system") == "1h"


def test_a_prior_key_of_the_wrong_type_is_ignored_with_a_warning(redis_url: str) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock)
    now = _teach(redis_url, "prior-type", clock, sim)
    client = redis.Redis.from_url(redis_url)
    client.delete("prior-type:f:prior")
    client.set("prior-type:f:prior", "not a hash")
    fresh = _state(redis_url, "prior-type", clock)
    with pytest.warns(CacheWarning, match="gap prior"):
        plan = optimize(handbook(0), state=fresh, now=now)
    assert ttl_of(plan, "system") == "5m"
    clock.set(5 * 1_200.0)  # the next sighting with a gap replaces the key
    _send(fresh, sim, catalogue(5), 5 * 1_200.0)
    assert client.type("prior-type:f:prior") == b"hash"


def test_another_app_on_a_taught_store_writes_its_first_prefix_as_the_fleet_learned(
        redis_url: str) -> None:
    """benchmarks/restart.py --rename on g037-agent (104k tokens, tasks minutes apart): the
    second pass, a fresh process whose layers the store knows by class only, writes for 1 hour
    from its first request and costs what static-1h costs; the first pass 1.277x."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "benchmarks"))
    import restart

    name, _, first, second = restart.run_one(37, redis_url, cross=False, rename=True)
    assert name == "g037-agent"
    assert first > 1.2
    assert second < 1.001
