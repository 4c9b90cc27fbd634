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
