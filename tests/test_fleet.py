"""A fleet of workers: any worker reads what another wrote, with private states or a Redis store."""

from __future__ import annotations

import subprocess

import pytest

from promptcache import CacheState, CacheWarning, optimize
from promptcache.clock import ManualClock
from promptcache.providers.anthropic.render import render_anthropic
from promptcache.replay.workloads import TraceRequest, agent_tool_loop
from promptcache.simulator import AnthropicCacheSimulator
from promptcache.state_redis import RedisStateStore

from ._redis_fixture import RedisServer, own_redis_server, redis_server, redis_url

__all__ = ["own_redis_server", "redis_server", "redis_url"]  # fixtures used by name


def _send(state: CacheState, sim: AnthropicCacheSimulator, item: TraceRequest,
          now: float) -> tuple[dict[str, int], tuple[str, ...]]:
    assert item.prompt is not None
    plan = optimize(item.prompt, state=state, now=now)
    result = sim.create(render_anthropic(item.prompt, plan), now=now)
    writes = [(plan.fingerprints[p.index], p.ttl, p.prefix_tokens) for p in plan.placements
              if p.prefix_tokens >= plan.limits.min_cacheable_tokens]
    state.record_request(item.prompt, plan.fingerprints, writes, now, readable_at=now)
    return dict(result.usage), plan.warnings


def _agent() -> list[TraceRequest]:
    # each step adds 24-28 blocks, beyond the 20-block lookback of a marker at the end
    return list(agent_tool_loop(tasks=1, steps=4).requests)


def test_a_fresh_worker_bridges_to_the_prefix_another_worker_wrote() -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.0)
    items = _agent()
    a = CacheState(clock=clock)
    for item in items[:-1]:
        clock.set(item.t)
        _send(a, sim, item, item.t)
    last = items[-1]
    clock.set(last.t)
    usage, warnings = _send(CacheState(clock=clock), sim, last, last.t)  # never saw the task
    assert last.prompt is not None
    previous_end = last.prompt.turns[-3].stop - 1
    assert usage["cache_read_input_tokens"] >= last.prompt.prefix_tokens[previous_end]
    assert any("Assumed the previous request cached" in w for w in warnings)


@pytest.mark.redis
def test_workers_sharing_a_redis_store_read_each_others_writes(redis_url: str) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.0)
    workers = [CacheState(clock=clock, shared=RedisStateStore(redis_url, timeout=1.0))
               for _ in range(3)]
    reads = []
    for n, item in enumerate(_agent()):
        clock.set(item.t)
        usage, warnings = _send(workers[n % 3], sim, item, item.t)
        reads.append(usage["cache_read_input_tokens"])
        if n:
            assert not any("Assumed" in w for w in warnings)  # it knows, from the store
    assert reads[0] == 0 and all(r > 0 for r in reads[1:])
    # the statistics are the fleet's: a worker that sent one request saw every sighting
    stats = workers[0].lookup((), clock.now(), [("conversation", "")])[1]
    assert stats["conversation"].sightings == len(reads)


@pytest.mark.redis
def test_the_redis_store_survives_the_server_being_killed_and_restarted(
        own_redis_server: RedisServer) -> None:
    clock = ManualClock(0.0)
    sim = AnthropicCacheSimulator(clock=clock, response_start_delay=0.0)
    server = own_redis_server
    states = [CacheState(clock=clock, retry_after=0.2,
                         shared=RedisStateStore(server.url, timeout=0.5)) for _ in range(2)]
    items = list(agent_tool_loop(tasks=2, steps=4).requests)
    _send(states[0], sim, items[0], items[0].t)
    server.stop()  # killed mid-run
    with pytest.warns(CacheWarning, match="unavailable") as caught:
        for n, item in enumerate(items[1:4], 1):
            clock.set(item.t)
            _send(states[n % 2], sim, item, item.t)
    assert len(caught) == 2  # once per worker, not per request
    # restart on the same port; after retry_after the workers use it again
    binary = server.process.args[0]  # type: ignore[index]
    server.process = subprocess.Popen(
        [binary, "--port", str(server.port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time

    import redis

    client = redis.Redis(port=server.port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not come back"
            time.sleep(0.05)
    time.sleep(0.3)  # past retry_after
    for item in items[4:]:
        clock.set(item.t)
        _send(states[0], sim, item, item.t)
    assert any(k.startswith(b"promptcache:e:") for k in client.scan_iter())
    client.close()


def test_the_fleet_example_reads_every_step_on_every_worker() -> None:
    import itertools
    import re
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "fleet.py"
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=180, check=True).stdout
    reads = [int(m.group(1).replace(",", "")) for m in re.finditer(r"read\s+([\d,]+)", out)]
    assert len(reads) in (5, 10)
    for run in (reads[:5], reads[5:]):
        if run:
            assert run[0] == 0 and all(b > a for a, b in itertools.pairwise(run))
