"""Start-up time of the ``promptcache`` command: ``plan`` on one request per provider, and the demo.

    python benchmarks/bench_cli.py [--runs 20] [--demo-runs 3] [--against TREE]

Each command runs ``--runs`` times in a fresh interpreter (what a user's shell does); the table
gives the minimum and the median wall time, the minimum being the least disturbed by other load
on the machine. Then ``python -X importtime`` of one ``plan`` run per request lists the imports
that cost the most (cumulative) and which provider SDKs were imported at all, so a regression
names its cause. The requests are small ones (a ``messages.create``, a ``chat.completions``, a
``generate_content``): what is measured is start-up and planning, not the request's size.
``--against TREE`` (a checkout of another commit, e.g. ``git worktree add /tmp/before <commit>``)
also times ``plan`` from that tree and from this one, interleaved run by run so machine load
weighs on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SYSTEM = "You answer from the employee handbook. " * 40
_QUESTION = "How many vacation days do I get?"
#: One small request per provider, named for the file ``plan`` reads.
REQUESTS = {
    "request.json": {"model": "claude-sonnet-4-6", "max_tokens": 64,
                     "system": [{"type": "text", "text": _SYSTEM}],
                     "messages": [{"role": "user", "content": _QUESTION}]},
    "openai.json": {"model": "gpt-5.6", "messages": [{"role": "system", "content": _SYSTEM},
                                                     {"role": "user", "content": _QUESTION}]},
    "gemini.json": {"model": "gemini-2.5-flash", "config": {"system_instruction": _SYSTEM},
                    "contents": [{"role": "user", "parts": [{"text": _QUESTION}]}]},
}
#: The provider SDKs whose import ``plan`` should not need.
SDKS = ("anthropic", "openai", "google.genai")


def timed(command: list[str], runs: int) -> tuple[float, float]:
    """(minimum, median) wall seconds of ``runs`` runs of ``command``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def interleaved(trees: dict[str, str], request: str, runs: int) -> dict[str, list[float]]:
    """Wall seconds of ``plan`` from each source tree, alternating between them run by run."""
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            code = (f"import sys; sys.path.insert(0, {tree!r}); from promptcache.cli import main; "
                    f"sys.exit(main(['plan', {request!r}]))")
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    return times


def imports(command: list[str]) -> list[tuple[int, str]]:
    """Every import of ``python -X importtime`` with its cumulative time (µs), slowest first."""
    out = subprocess.run([sys.executable, "-X", "importtime", *command], capture_output=True,
                         text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--demo-runs", type=int, default=3)
    parser.add_argument("--against", metavar="TREE", help="another checkout to compare plan with")
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("promptcache"))
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: os.path.join(tmp, name) for name in REQUESTS}
        for name, path in files.items():
            Path(path).write_text(json.dumps(REQUESTS[name]))
        request = files["request.json"]
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], args.runs),
            ("python -c 'import promptcache'", [sys.executable, "-c", "import promptcache"],
             args.runs),
            ("promptcache plan request.json", [cli, "plan", request], args.runs),
            ("promptcache plan request.json --json", [cli, "plan", request, "--json"], args.runs),
            ("promptcache plan openai.json", [cli, "plan", files["openai.json"]], args.runs),
            ("promptcache plan gemini.json", [cli, "plan", files["gemini.json"]], args.runs),
            ("promptcache demo --no-progress", [cli, "demo", "--no-progress"], args.demo_runs),
        ]
        load = os.getloadavg()[0]
        print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")
        print("| command | runs | min s | median s |")
        print("|---|---:|---:|---:|")
        for label, command, runs in rows:
            low, mid = timed(command, runs)
            print(f"| `{label}` | {runs} | {low:.3f} | {mid:.3f} |")
        for name, path in files.items():
            code = ("import io, contextlib, sys\nfrom promptcache.cli import main\n"
                    "with contextlib.redirect_stdout(io.StringIO()):\n"
                    f"    main(['plan', {path!r}])\n")
            found = imports(["-c", code])
            seen = {module for _, module in found}
            sdks = ", ".join(sdk for sdk in SDKS if sdk in seen) or "none"
            print(f"\nslowest imports of one `plan {name}` run (cumulative µs, python -X "
                  f"importtime); provider SDKs imported: {sdks}")
            for micros, module in found[:8]:
                print(f"  {micros:>9,}  {module}")
        if args.against:
            here = str(Path(__file__).resolve().parent.parent)
            for label, path in files.items():
                times = interleaved({"against": args.against, "this tree": here}, path,
                                    args.runs)
                print(f"\nplan {label}, interleaved ({args.runs} pairs, load "
                      f"{os.getloadavg()[0]:.1f}):")
                for name, values in times.items():
                    print(f"  {name:<10} min {min(values):.3f} s  median "
                          f"{statistics.median(values):.3f} s")


if __name__ == "__main__":
    main()
