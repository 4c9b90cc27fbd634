"""Warm-up through the Message Batches API: one request first, then the rest.

Cache hits in a batch are best-effort, since the requests of one batch run concurrently in any
order. The documented recipe: submit one request with a 1h breakpoint on the shared prefix, wait
for that batch to end, then submit the rest, which find the entry (a 1h TTL because a batch can
take longer than 5 minutes to start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptcache.errors import PromptCacheError, PromptError
from promptcache.limits import BATCH_PRICE_MULTIPLIER, limits_for
from promptcache.session._anthropic import turn_usage
from promptcache.session._values import TurnUsage
from promptcache.warmup._prefix import NotWarmable, SharedPrefix, prepare

__all__ = ["BatchWarmupResult", "warm_up_batch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchWarmupResult:
    """Both batches, and each request's result by ``custom_id``."""

    model: str
    #: The shared prefix warmed; ``None`` when there was nothing to warm (one batch was sent).
    prefix: SharedPrefix | None
    first_batch_id: str
    rest_batch_id: str | None
    #: ``custom_id`` -> the SDK's result (``succeeded`` with a message, ``errored``...).
    results: Mapping[str, Any] = field(repr=False)

    @property
    def usage(self) -> TurnUsage:
        """Every succeeded request's tokens, summed, for :attr:`model`."""
        total = TurnUsage(provider="anthropic", model=self.model)
        for result in self.results.values():
            if getattr(result, "type", None) == "succeeded":
                total = total + turn_usage(result.message.usage)
        return total

    @property
    def cost_usd(self) -> float | None:
        """What both batches are billed: the cache multipliers on the Message Batches price
        (half the standard one, :data:`~promptcache.limits.BATCH_PRICE_MULTIPLIER`); ``None``
        without a known price."""
        standard = self.usage.cost_usd(limits_for(self.model, provider="anthropic"))
        return None if standard is None else standard * BATCH_PRICE_MULTIPLIER


def _wait(client: Any, batch_id: str, poll_interval: float, timeout: float,
          sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return
        if time.monotonic() > deadline:
            raise PromptCacheError(f"batch {batch_id} has not ended after {timeout:,.0f} s "
                                   f"(status {batch.processing_status!r}); the rest were not sent.")
        sleep(poll_interval)


def warm_up_batch(client: Any, requests: Sequence[Mapping[str, Any]], *,
                  custom_ids: Sequence[str] | None = None, poll_interval: float = 10.0,
                  timeout: float = 86_400.0, sleep: Callable[[float], None] = time.sleep,
                  ) -> BatchWarmupResult:
    """Submit ``requests[0]`` alone with a 1h breakpoint on the shared prefix, wait for its batch
    to end, then submit the rest in a second batch and wait for it too.

    ``client`` is an ``anthropic.Anthropic``; ``sleep`` is injectable so tests need not wait.
    Requests with nothing to warm (below the minimum, no breakpoint slot) go out as they are, in
    one batch. No request uses ``max_tokens=0``: the API refuses pre-warming inside a batch.
    """
    ids = list(custom_ids) if custom_ids is not None else [f"req-{i}" for i in range(len(requests))]
    if len(ids) != len(requests) or len(set(ids)) != len(ids):
        raise PromptError("custom_ids: one unique id per request is required.", path="custom_ids")
    try:
        prepared, prefix = prepare(requests, ttl="1h")
    except NotWarmable:
        prepared, prefix = [dict(r) for r in requests], None
    prepared = [{k: v for k, v in r.items() if k != "stream"} for r in prepared]
    if prefix is None:
        only = client.messages.batches.create(requests=[
            {"custom_id": i, "params": p} for i, p in zip(ids, prepared, strict=True)])
        _wait(client, only.id, poll_interval, timeout, sleep)
        results = {r.custom_id: r.result for r in client.messages.batches.results(only.id)}
        return BatchWarmupResult(model=str(prepared[0]["model"]), prefix=None,
                                 first_batch_id=only.id, rest_batch_id=None,
                                 results={i: results[i] for i in ids})
    first = client.messages.batches.create(requests=[{"custom_id": ids[0], "params": prepared[0]}])
    _wait(client, first.id, poll_interval, timeout, sleep)
    results = {r.custom_id: r.result for r in client.messages.batches.results(first.id)}
    rest_id = None
    if len(prepared) > 1:
        rest = client.messages.batches.create(requests=[
            {"custom_id": i, "params": p} for i, p in zip(ids[1:], prepared[1:], strict=True)])
        rest_id = rest.id
        _wait(client, rest.id, poll_interval, timeout, sleep)
        results.update({r.custom_id: r.result for r in client.messages.batches.results(rest.id)})
    return BatchWarmupResult(model=str(prepared[0]["model"]), prefix=prefix, first_batch_id=first.id,
                             rest_batch_id=rest_id, results={i: results[i] for i in ids})
