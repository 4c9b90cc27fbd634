"""What observability adds to a wrapped call: the logging, ledger record, span and miss report.

Times ``CallObserver.prepared`` + ``CallObserver.accounted`` (the two hooks every wrapped call
runs) on a real planned Anthropic call of a growing conversation (~200 content blocks), captured
once from a wrapped client against the loopback server, in three settings:

* ``quiet``: no handler at DEBUG, OpenTelemetry configured by nobody (no span is attempted);
* ``traced``: an OpenTelemetry SDK TracerProvider with an in-memory exporter (a span per call);
* ``miss``: traced, with the provider reporting a miss (promptcache names the first changed
  block from the two Prompts' fingerprints);
* ``diff``: what asking that miss report for its full ``diff_requests`` costs (on demand only:
  it reads both requests again).

Every call reads less than the plan expected, so each builds a miss report.

Run: ``python benchmarks/bench_observe.py`` (``--repeat 200``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anthropic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from promptcache import CacheState
from promptcache.clock import ManualClock
from promptcache.diagnostics import MissDiagnosis
from promptcache.dropin import CallObserver, handle_of, wrap
from promptcache.testing import AnthropicServer
from promptcache.usage import Ledger, Usage

MODEL = "claude-sonnet-4-6"
SYSTEM = "You are a meticulous support agent. " + " ".join(f"rule{i}" for i in range(3_000))


def captured(turns: int) -> tuple[Any, Any, Any]:
    """(previous Prepared, last Prepared, last response) of a wrapped ``turns``-turn chat."""
    with AnthropicServer(clock=ManualClock()) as server:
        client = wrap(anthropic.Anthropic(base_url=server.url, api_key="t", max_retries=0),
                      state=CacheState(clock=ManualClock()))
        messages: list[dict[str, Any]] = []
        previous = response = None
        for i in range(turns):
            messages.append({"role": "user", "content": [
                {"type": "text", "text": f"question {i} " + "word " * 40} for _ in range(5)]})
            previous = handle_of(client).last
            response = client.messages.create(model=MODEL, max_tokens=32, system=SYSTEM,
                                              messages=messages)
            messages.append({"role": "assistant", "content": response.content})
        return previous, handle_of(client).last, response


def median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--turns", type=int, default=33)
    args = parser.parse_args()
    previous, last, response = captured(args.turns)
    blocks = len(last.prompt.blocks)
    usage = Usage(provider="anthropic", model=MODEL, cache_read_tokens=1000, output_tokens=5)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    miss = {"diagnostics": {"cache_miss_reason": {"type": "messages_changed",
                                                 "cache_missed_input_tokens": 900}}}

    def run(observer: CallObserver, reply: Any) -> None:
        observer._previous, observer._previous_prompt = previous.kwargs, previous.prompt
        sent = observer.prepared("messages.create", last)
        observer.accounted(Ledger(), sent, usage, reply)

    quiet = CallObserver({}, "api")
    traced = CallObserver({"tracer_provider": provider}, "api")
    print(f"one planned call of {blocks} blocks; median of {args.repeat} calls")
    for name, observer, reply in (("quiet", quiet, response), ("traced", traced, response),
                                  ("miss", traced, miss)):
        print(f"  {name:<7} {median_ms(lambda o=observer, r=reply: run(o, r), args.repeat):8.3f} ms")
    run(traced, miss)
    report = traced.last_miss
    assert report is not None and report.changed_path is None  # only appended: nothing changed
    compute = MissDiagnosis.diff.func  # the cached property's function: computed afresh each time
    diff_ms = median_ms(lambda: compute(report), max(1, args.repeat // 10))
    print(f"  {'diff':<7} {diff_ms:8.3f} ms  (MissDiagnosis.diff, on demand)")


if __name__ == "__main__":
    main()
