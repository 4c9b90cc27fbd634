"""promptcache backends behind LangChain's cache interface, with a real ChatAnthropic."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptcache.cache import MemoryBackend, SQLiteBackend
from promptcache.cache.langchain import langchain_cache
from tests._stub_servers import ANSWER, StubServer

langchain_anthropic = pytest.importorskip("langchain_anthropic")
globals_ = pytest.importorskip("langchain_core.globals")


# No filterwarnings mark: the adapter must hit under this project's -W error by itself.
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_chat_anthropic_is_served_from_a_promptcache_backend(kind: str, tmp_path: Path) -> None:
    backend = MemoryBackend() if kind == "memory" else SQLiteBackend(tmp_path / "lc.sqlite3")
    with StubServer() as server:
        globals_.set_llm_cache(langchain_cache(backend, namespace="t"))
        try:
            llm = langchain_anthropic.ChatAnthropic(
                model="claude-sonnet-4-6", api_key="sk-x", base_url=server.url, max_retries=0
            )
            first = llm.invoke("Capital of France?")
            second = llm.invoke("Capital of France?")
        finally:
            globals_.set_llm_cache(None)
        assert server.total_hits == 1
        assert second.content == first.content == ANSWER


def _stored_generation(cache: object) -> None:
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration

    cache.update("p", "llm", [ChatGeneration(message=AIMessage(content=ANSWER))])  # type: ignore[attr-defined]


def test_a_hit_never_touches_the_process_wide_warning_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21 item 10: ``warnings.catch_warnings()`` swaps ``warnings.filters`` for the
    whole process; the adapter must silence LangChain's beta warning without it."""
    import warnings

    cache = langchain_cache(MemoryBackend(), namespace="w")
    _stored_generation(cache)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the adapter called warnings.catch_warnings()")

    before = list(warnings.filters)
    monkeypatch.setattr(warnings, "catch_warnings", forbidden)
    hit = cache.lookup("p", "llm")
    assert hit is not None and hit[0].message.content == ANSWER
    assert warnings.filters == before


def test_filters_an_application_adds_while_threads_hit_the_cache_survive() -> None:
    import threading
    import time
    import warnings

    cache = langchain_cache(MemoryBackend(), namespace="threads")
    _stored_generation(cache)
    stop = threading.Event()
    misses: list[object] = []

    def reader() -> None:
        while not stop.is_set():
            if cache.lookup("p", "llm") is None:
                misses.append(None)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    added = [f"promptcache-test-filter-{i}" for i in range(200)]
    try:
        for message in added:
            warnings.filterwarnings("ignore", message=message)
            time.sleep(0)  # let the readers run between two additions
    finally:
        stop.set()
        for t in threads:
            t.join()
    kept = {f[1].pattern for f in warnings.filters if f[1] is not None}
    assert [m for m in added if m not in kept] == []
    assert misses == []
