"""Token counting stays linear in the text and its memo stays within a stated number of bytes."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import tiktoken

from promptcache.tokens import (
    CHUNK_CHARS,
    DEFAULT_MEMO_BYTES,
    TiktokenCounter,
    chunks,
    default_counter,
)

ENCODING = tiktoken.get_encoding(TiktokenCounter.encoding_name)


def exact(text: str) -> int:
    return len(ENCODING.encode(text, disallowed_special=()))


class RecordingCounter(TiktokenCounter):
    """A counter whose encoder records the length of every piece it is given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lengths: list[int] = []

    def _load(self) -> Any:
        lengths = self.lengths

        class Recording:
            def encode(self, text: str, **kwargs: Any) -> list[int]:
                lengths.append(len(text))
                return list(ENCODING.encode(text, **kwargs))

            def encode_ordinary(self, text: str) -> list[int]:
                return self.encode(text, disallowed_special=())

        self._encoding = Recording()
        return self._encoding


def test_the_default_memo_bound_is_64_mib_for_every_counter() -> None:
    assert DEFAULT_MEMO_BYTES == 64 * 1024 * 1024
    assert TiktokenCounter().max_bytes == DEFAULT_MEMO_BYTES
    assert default_counter().max_bytes == DEFAULT_MEMO_BYTES


def test_the_memo_never_keeps_more_than_its_bound_alive() -> None:
    """Many distinct large blocks (the 20k x 50 KB case, scaled down 50x): bounded memory."""
    bound = 1024 * 1024
    counter = TiktokenCounter(max_bytes=bound)
    counter.count_text("warm up the encoder")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2_000):
            counter.count_text(f"block {i} " + "lorem ipsum dolor " * 280)  # ~5 KB each, 10 MB
            assert counter.memo_bytes <= bound
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept <= bound * 1.5, f"{kept:,} bytes kept alive for a {bound:,}-byte memo"


def test_the_newest_entries_stay_memoised() -> None:
    texts = [f"text {i} " + "x " * 2_000 for i in range(100)]
    recording = RecordingCounter(max_bytes=200_000)
    for text in texts:
        recording.count_text(text)
    recording.lengths.clear()
    recording.count_text(texts[-1])
    assert recording.lengths == []  # a hit: the encoder was not called
    recording.count_text(texts[0])
    assert recording.lengths  # evicted long ago: counted again


def test_a_text_larger_than_an_eighth_of_the_bound_is_counted_not_kept() -> None:
    counter = TiktokenCounter(max_bytes=80_000)
    counter.count_text("small")
    kept = counter.memo_bytes
    assert counter.count_text("word " * 4_000) == exact("word " * 4_000)
    assert counter.memo_bytes == kept


def test_no_piece_longer_than_the_chunk_reaches_the_encoder() -> None:
    """What makes counting linear: the BPE merge never sees a piece longer than CHUNK_CHARS."""
    counter = RecordingCounter()
    for text in ("a" * 300_000, " " * 300_000, "ab" * 150_000, "word " * 60_000):
        counter.count_text(text)
    assert counter.lengths and max(counter.lengths) <= CHUNK_CHARS


def test_a_run_of_one_character_encodes_one_piece_once() -> None:
    counter = RecordingCounter()
    counter.count_text("a" * 1_000_000)
    assert len(counter.lengths) <= 3


def test_prose_counts_exactly_as_without_chunks() -> None:
    prose = " ".join(f"word{i} and more text, with punctuation! Über café." for i in range(3_000))
    assert len(prose) > 20 * CHUNK_CHARS
    assert TiktokenCounter().count_text(prose) == exact(prose)


def test_a_long_run_is_counted_within_a_token_per_cut() -> None:
    for text in ("a" * 40_000, "é" * 40_000, "0123456789" * 4_000):
        cuts = len(chunks(text)) - 1
        assert abs(TiktokenCounter().count_text(text) - exact(text)) <= 2 * cuts


def test_chunks_reassemble_the_text_and_cut_at_whitespace() -> None:
    text = "alpha beta\ngamma " * 1_000
    pieces = chunks(text)
    assert "".join(pieces) == text
    assert all(len(p) <= CHUNK_CHARS for p in pieces)
    assert all(p[0] in " \n" for p in pieces[1:])
