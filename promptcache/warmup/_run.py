"""Warm a shared prefix, then fan out: ``warm_up`` (asyncio) and ``warm_up_sync`` (threads).

An Anthropic cache entry becomes readable only once the response that writes it has started, so
N concurrent requests on a cold prefix each pay a write. Here one request goes first (the first
of the N, streamed, or a prefix-only request with ``max_tokens=0``); as soon as its response
starts, the rest go out with bounded concurrency and all read the entry. The two shells share
everything but the waiting: planning (``_prefix``), single-flight (``_flight``), the decisions
(``_steps``: already warm, wait for another caller, or lead, and releasing what was led) and
accounting; each shell only sends, waits and fans out, with threads or with asyncio.

Warm-up never makes a call fail that would have succeeded without it: requests with nothing to
warm (below the minimum, or no breakpoint slot) are sent as they are, and a prefix-only pre-warm
the API would refuse (thinking, structured outputs, a forced tool_choice) falls back to leading
with the first request. Either is said in ``WarmupResult.fallback`` and a :class:`CacheWarning`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import warnings
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from promptcache.cache.keys import client_identity
from promptcache.errors import CacheWarning
from promptcache.limits import limits_for
from promptcache.session._anthropic import turn_usage
from promptcache.session._values import TurnUsage
from promptcache.warmup._flight import DEFAULT_FLIGHTS, SingleFlight, flight_key
from promptcache.warmup._prefix import NotWarmable, SharedPrefix, prepare, prewarm_request

__all__ = ["WarmupMode", "WarmupResult", "warm_up", "warm_up_sync"]

#: ``first``: the first request leads, streamed; ``prefix``: a ``max_tokens=0`` request on the
#: shared prefix leads; ``none``: no warm-up (the naive fan-out, for comparison).
WarmupMode = Literal["first", "prefix", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupResult:
    """The responses, in the order of the requests, and what the fan-out cost."""

    model: str
    responses: tuple[Any, ...] = field(repr=False)
    per_request: tuple[TurnUsage, ...] = field(repr=False)
    #: The shared prefix warmed (``None`` when there was nothing to warm, see ``fallback``).
    prefix: SharedPrefix | None
    #: What happened: ``first``/``prefix`` (this call warmed), ``waited`` (another caller was
    #: warming a prefix these requests read), ``already-warm`` (known warm: no warm-up),
    #: ``none`` (asked for no warm-up), ``not-warmed`` (nothing to warm: sent as they are).
    outcome: str
    #: The prefix-only response (``prefix`` mode), whose write is part of ``usage``.
    warm_response: Any = field(default=None, repr=False)
    #: Seconds until the leading response started, and for the whole call.
    first_start: float = 0.0
    elapsed: float = 0.0
    #: Why the mode asked for was not used ("" when it was): nothing to warm, or a ``max_tokens=0``
    #: pre-warm the API refuses with these requests' settings.
    fallback: str = ""

    @property
    def usage(self) -> TurnUsage:
        total = sum(self.per_request, TurnUsage())
        if self.warm_response is not None:
            total = total + turn_usage(self.warm_response.usage)
        return total

    @property
    def writes(self) -> int:
        """Requests (the prefix-only one included) that paid for a cache write."""
        extra = (1 if self.warm_response is not None
                 and turn_usage(self.warm_response.usage).cache_write_tokens else 0)
        return extra + sum(1 for u in self.per_request if u.cache_write_tokens)

    @property
    def cost_usd(self) -> float | None:
        return self.usage.cost_usd(limits_for(self.model, provider="anthropic"))

    def summary(self) -> str:
        u = self.usage
        cost = f", ${self.cost_usd:.4f}" if self.cost_usd is not None else ""
        return (f"{len(self.responses)} requests ({self.outcome}): {self.writes} cache writes "
                f"({u.cache_write_tokens:,} tokens), {u.cache_read_tokens:,} read{cost}; first "
                f"response started after {self.first_start:.2f} s, all done in {self.elapsed:.2f} s")


@contextlib.contextmanager
def _progress(enabled: bool, total: int, console: Any) -> Iterator[Any]:
    """A rich progress bar (thread-safe), or a stand-in whose ``advance`` does nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("warm-up"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not enabled, console=console) as bar:
        task = bar.add_task("warm-up", total=total)
        yield lambda: bar.advance(task)


def _clean(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != "stream"}


def _warn(message: str) -> None:
    # Never let the warning fail the call: under ``-W error`` it is raised, so swallow it here;
    # ``WarmupResult.fallback`` still says it.
    with contextlib.suppress(CacheWarning):
        warnings.warn(CacheWarning(message, rule="warm-up-fallback"), stacklevel=4)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """What one call will send, and its single-flight keys (client identity folded in)."""

    prepared: list[dict[str, Any]]
    prefix: SharedPrefix | None
    mode: WarmupMode
    fallback: str = ""
    warm_request: dict[str, Any] | None = None
    #: Flight key of the shared prefix; keys a request could read; entries the leader writes.
    lead_key: str = ""
    wanted: tuple[str, ...] = ()
    writes: tuple[tuple[str, str, int], ...] = ()


def _plan(client: Any, requests: Sequence[Mapping[str, Any]], mode: WarmupMode, ttl: str) -> _Plan:
    try:
        prepared, prefix = prepare(requests, ttl=ttl)
    except NotWarmable as e:
        if mode != "none":
            _warn(f"warm-up: {e} The requests are sent as they are.")
        return _Plan(prepared=[_clean(r) for r in requests], prefix=None, mode="none",
                     fallback=str(e) if mode != "none" else "")
    prepared = [_clean(r) for r in prepared]
    fallback, warm = "", None
    if mode == "prefix":
        warm, fallback = prewarm_request(prepared[0], prefix)
        if warm is None:
            _warn(f"warm-up: {fallback}.")
            mode = "first"
    identity = client_identity(client)
    return _Plan(prepared=prepared, prefix=prefix, mode=mode, fallback=fallback, warm_request=warm,
                 lead_key=flight_key(identity, prefix.fingerprint),
                 wanted=tuple(flight_key(identity, fp) for fp in prefix.reads),
                 writes=tuple((flight_key(identity, fp), t, n) for fp, t, n in prefix.writes))


def _result(model: str, responses: Sequence[Any], plan: _Plan, outcome: str,
            warm: Any, first_start: float, t0: float) -> WarmupResult:
    return WarmupResult(model=model, responses=tuple(responses),
                        per_request=tuple(turn_usage(r.usage) for r in responses),
                        prefix=plan.prefix, outcome=outcome, warm_response=warm,
                        first_start=first_start, elapsed=time.perf_counter() - t0,
                        fallback=plan.fallback)


#: How many shorter prefixes a call waits for before it fans out regardless.
_MAX_WAITS = 3


def _claim(flights: SingleFlight, plan: _Plan) -> tuple[str, Future[None] | None, bool]:
    """``(outcome, flight, leading)``: already warm, wait for ``flight``, or lead it."""
    if flights.is_warm(plan.lead_key):
        return "already-warm", None, False
    leading, key, flight = flights.claim_any(plan.wanted, [k for k, _, _ in plan.writes])
    if leading:
        return plan.mode, flight, True
    # Waiting on a shorter prefix than ours: once it is warm, a call with several requests still
    # has its own shared prefix to warm (a single request has nothing left to share).
    again = key != plan.lead_key and len(plan.prepared) > 1
    return ("waited-again" if again else "waited"), flight, False


@dataclass(frozen=True, slots=True)
class _Wait:
    """Wait for another caller's warm-up of a prefix these requests read (its error ignored)."""

    flight: Future[None]


@dataclass(frozen=True, slots=True)
class _Lead:
    """Send the leading request (the prefix-only one, or the first request streamed) and report
    back once its response has started, or throw its error into the steps."""


_Step = _Wait | _Lead


def _steps(flights: SingleFlight, plan: _Plan) -> Generator[_Step, None, str]:
    """The warm-up's decisions, shared by both shells and free of I/O: yields what to do next,
    returns the outcome. A lead's flight is released here once the shell reports back (with its
    error, if one is thrown in), so no shell can forget to."""
    outcome = "not-warmed" if plan.fallback and plan.prefix is None else str(plan.mode)
    waits = 0
    while plan.mode != "none":
        outcome, flight, leading = _claim(flights, plan)
        if flight is None:  # already warm
            break
        if not leading:
            yield _Wait(flight)
            waits += 1
            if outcome == "waited-again" and waits < _MAX_WAITS:
                continue
            return "waited"
        try:
            yield _Lead()
        except BaseException as e:
            flights.release_all(flight, plan.writes, error=e)
            raise
        flights.release_all(flight, plan.writes)
        break
    return outcome


async def warm_up(client: Any, requests: Sequence[Mapping[str, Any]], *, mode: WarmupMode = "first",
                  concurrency: int = 8, progress: bool = True, flights: SingleFlight | None = None,
                  ttl: str = "5m", console: Any = None) -> WarmupResult:
    """Send ``requests`` (``messages.create`` kwargs) through an ``AsyncAnthropic`` client,
    paying one cache write for their shared prefix instead of one per request.

    ``concurrency`` bounds the requests in flight (an ``asyncio.Semaphore``). Callers in this
    process that use the same client identity and want the same cold prefix at the same time
    share one warm-up (``flights``).
    """
    plan = _plan(client, requests, mode, ttl)
    prepared = plan.prepared
    steps = _steps(flights if flights is not None else DEFAULT_FLIGHTS, plan)
    t0 = time.perf_counter()
    results: list[Any] = [None] * len(prepared)
    leader: asyncio.Task[Any] | None = None
    warm, first_start = None, 0.0
    todo = list(range(len(prepared)))
    sem = asyncio.Semaphore(concurrency)

    with _progress(progress, len(prepared), console) as advance:
        try:
            step = next(steps)
            while True:
                if isinstance(step, _Wait):
                    with contextlib.suppress(Exception):  # a failed leader: fan out regardless
                        await asyncio.wrap_future(step.flight)
                    step = next(steps)
                    continue
                try:
                    if plan.warm_request is not None:
                        warm = await client.messages.create(**plan.warm_request)
                    else:
                        started = asyncio.Event()
                        leader = asyncio.create_task(_lead_async(client, prepared[0], started, sem))
                        waiter = asyncio.create_task(started.wait())
                        await asyncio.wait({leader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                        waiter.cancel()
                        if leader.done() and leader.exception() is not None:
                            raise leader.exception()  # type: ignore[misc]
                        todo = todo[1:]
                    first_start = time.perf_counter() - t0
                except BaseException as e:
                    steps.throw(e)  # releases the flight, raises ``e`` again
                    raise
                step = next(steps)
        except StopIteration as done:
            outcome: str = done.value

        async def one(i: int) -> None:
            async with sem:
                results[i] = await client.messages.create(**prepared[i])
            advance()

        await asyncio.gather(*(one(i) for i in todo))
        if leader is not None:
            results[0] = await leader
            advance()
    return _result(prepared[0]["model"], results, plan, outcome, warm, first_start, t0)


async def _lead_async(client: Any, request: Mapping[str, Any], started: asyncio.Event,
                      sem: asyncio.Semaphore) -> Any:
    async with sem, client.messages.stream(**request) as stream:
        async for _event in stream:
            started.set()
        message = await stream.get_final_message()
    started.set()
    return message


def warm_up_sync(client: Any, requests: Sequence[Mapping[str, Any]], *, mode: WarmupMode = "first",
                 concurrency: int = 8, progress: bool = True, flights: SingleFlight | None = None,
                 ttl: str = "5m", console: Any = None) -> WarmupResult:
    """:func:`warm_up` for an ``anthropic.Anthropic`` client, with a pool of ``concurrency`` threads."""
    plan = _plan(client, requests, mode, ttl)
    prepared = plan.prepared
    steps = _steps(flights if flights is not None else DEFAULT_FLIGHTS, plan)
    t0 = time.perf_counter()
    results: list[Any] = [None] * len(prepared)
    warm, first_start = None, 0.0
    todo = list(range(len(prepared)))

    with _progress(progress, len(prepared), console) as advance, \
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="warmup") as pool:
        leader: Future[Any] | None = None
        try:
            step = next(steps)
            while True:
                if isinstance(step, _Wait):
                    with contextlib.suppress(Exception):
                        step.flight.result()
                    step = next(steps)
                    continue
                try:
                    if plan.warm_request is not None:
                        warm = client.messages.create(**plan.warm_request)
                    else:
                        started = threading.Event()
                        leader = pool.submit(_lead_sync, client, prepared[0], started)
                        while not started.wait(0.005):
                            if leader.done():
                                leader.result()  # raises the leader's error
                                break
                        todo = todo[1:]
                    first_start = time.perf_counter() - t0
                except BaseException as e:
                    steps.throw(e)
                    raise
                step = next(steps)
        except StopIteration as done:
            outcome: str = done.value

        def one(i: int) -> None:
            results[i] = client.messages.create(**prepared[i])
            advance()

        for future in [pool.submit(one, i) for i in todo]:
            future.result()
        if leader is not None:
            results[0] = leader.result()
            advance()
    return _result(prepared[0]["model"], results, plan, outcome, warm, first_start, t0)


def _lead_sync(client: Any, request: Mapping[str, Any], started: threading.Event) -> Any:
    with client.messages.stream(**request) as stream:
        for _event in stream:
            started.set()
        message = stream.get_final_message()
    started.set()
    return message
