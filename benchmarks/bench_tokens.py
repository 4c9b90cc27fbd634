"""Token counting: seconds per text shape and size, and what the memo keeps alive.

Shapes that were slow before counting was chunked (issue 14): one character repeated (one
pre-token for tiktoken's superlinear BPE merge), letters without whitespace, and prose for
reference. Memory: distinct 50 KB blocks counted and dropped, then what the default counter's
memo still holds. Run: ``python benchmarks/bench_tokens.py`` (``--mb 5`` sets the text size).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc

from promptcache.tokens import TiktokenCounter


def _texts(size: int) -> dict[str, str]:
    r = random.Random(0)
    return {
        "one character repeated": "a" * size,
        "spaces only": " " * size,
        "random letters, no whitespace": "".join(r.choice("abcdefghij") for _ in range(size)),
        "prose": " ".join(f"word{i} and more text, with punctuation!"
                          for i in range(size // 40))[:size],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0, help="text size in MB (default 5)")
    parser.add_argument("--blocks", type=int, default=20_000, help="distinct 50 KB blocks")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    counter = TiktokenCounter()
    counter.count_text("load the encoding")
    print(f"counting {args.mb:g} MB texts (fresh counter each, no memo hit):")
    for name, text in _texts(size).items():
        fresh = TiktokenCounter()
        fresh.count_text("load")
        start = time.perf_counter()
        n = fresh.count_text(text)
        print(f"  {name:32} {time.perf_counter() - start:7.2f} s  {n:>10,} tokens")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(args.blocks):
        counter.count_text(f"block {i} " + "lorem ipsum dolor sit amet " * 1_850)  # ~50 KB
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"{args.blocks:,} distinct 50 KB blocks counted and dropped: {kept / 2**20:,.1f} MiB "
          f"kept alive (memo bound {counter.max_bytes / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
