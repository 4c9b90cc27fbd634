"""Replay: a trace under a strategy against the simulator, at trace time, priced by usage.py."""

from __future__ import annotations

from promptcache.replay.compare import compare, replay, result_row
from promptcache.replay.strategies import BENCHMARK_STRATEGIES, strategy_for
from promptcache.replay.workloads import WORKLOADS, chat_with_tools, rag_rotating_documents, sparse_users


def test_no_caching_bills_every_token_at_the_base_price() -> None:
    trace = chat_with_tools(sessions=2, turns=3)
    result = replay(trace, strategy_for("none", trace))
    assert result.totals.cache_read_tokens == 0 and result.totals.cache_write_tokens == 0
    assert abs(result.billed - result.uncached) < 1e-12
    assert len(result.calls) == len(trace.requests)


def test_every_strategy_sends_the_same_tokens() -> None:
    trace = rag_rotating_documents(topics=3)
    results = compare(trace, BENCHMARK_STRATEGIES)
    totals = {r.totals.total_input_tokens for r in results.values()}
    assert len(totals) == 1


def test_caching_strategies_save_on_a_chat() -> None:
    results = compare(chat_with_tools(sessions=2, turns=4))
    assert results["promptcache"].billed < results["none"].billed
    assert results["hand"].billed < results["none"].billed


def test_the_clock_is_the_trace_clock_so_5m_entries_expire_between_sparse_visits() -> None:
    trace = sparse_users(users=1, turns=3)
    result = replay(trace, strategy_for("hand", trace))
    assert all(c.usage.cache_read_tokens == 0 for c in result.calls)  # tools+system < gap too


def test_cumulative_cost_ends_at_the_bill_and_progress_counts_every_request() -> None:
    trace = chat_with_tools(sessions=1, turns=3)
    seen: list[tuple[int, int]] = []
    result = replay(trace, strategy_for("promptcache", trace), progress=lambda n, t: seen.append((n, t)))
    assert abs(result.cumulative()[-1] - result.billed) < 1e-12
    assert seen[-1] == (len(trace.requests), len(trace.requests))


def test_clairvoyant_is_no_dearer_than_any_real_strategy_on_every_workload() -> None:
    for factory in WORKLOADS.values():
        results = compare(factory(), BENCHMARK_STRATEGIES)
        rows = {name: result_row(r, results["none"]) for name, r in results.items()}
        bound = rows["clairvoyant"]["billed_usd"]
        assert all(bound <= row["billed_usd"] * 1.001 for row in rows.values()), rows
