"""Fuzz the ``promptcache`` command on generated files: exit 0, 1 or 2, never a traceback.

Files are near-valid requests, junk JSON, random bytes (most not UTF-8), JSON nested 500 to
100,000 deep, and traces. An error is one line on stderr with exit 2. A request-level
``cache_control`` survives ``plan`` (it used to vanish). Part of the 10,000-input fuzz budget
stated in ``test_fuzz_api.py``; derandomized like the rest.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.cli import main

from .._fuzz import FUZZ, Gen, known, scaled, seeds

BUDGET = scaled({"cli": 600})


def _content(g: Gen, kind: str) -> bytes:
    """The bytes of one generated input file."""
    if kind == "request":
        return _dump(g.request(), ascii=g.chance(0.5))
    if kind == "junk":
        return _dump(g.junk(3))
    if kind == "bytes":
        return bytes(g.r.randrange(256) for _ in range(g.r.randint(0, 64)))
    if kind == "deep":
        depth = g.r.choice([500, 5_000, 100_000])
        if g.chance(0.5):
            return ("[" * depth + "]" * depth).encode()
        inner = '{"a":' * depth + "1" + "}" * depth
        return ('{"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", '
                f'"content": [{{"type": "text", "text": "hi", "x": {inner}}}]}}]}}').encode()
    lines = [_dump({"t": g.r.choice([0, 1.5, 60, -1, "x", None]), "request": g.request()})
             for _ in range(g.r.randint(1, 3))]
    return b"\n".join(lines)


def _dump(value: Any, ascii: bool = True) -> bytes:
    """JSON bytes of a generated value (bytes leaves written as their repr, as a file would)."""
    return json.dumps(value, ensure_ascii=ascii, default=repr, skipkeys=True).encode(
        "utf-8", "surrogatepass")


def _argv(g: Gen, command: str, first: str, second: str) -> list[str]:
    if command == "plan":
        argv = ["plan", first]
        provider = g.r.choice([None, "anthropic", "openai", "gemini"])
        if provider:
            argv += ["--provider", provider]
            if provider != "anthropic" and g.chance(0.8):
                argv += ["--model", "gpt-5.6" if provider == "openai" else "gemini-2.5-flash"]
            if provider == "openai" and g.chance(0.5):
                argv += ["--api", "responses"]
        argv += [flag for flag in ("--json", "--ignore-markers") if g.chance(0.4)]
        if g.chance(0.2):
            argv += ["--automatic", g.r.choice(["5m", "1h"])]
        return argv
    if command == "lint":
        return ["lint", first, *(["--json"] if g.chance(0.5) else [])]
    if command == "diff":
        return ["diff", first, second, *(["--json"] if g.chance(0.5) else [])]
    return ["simulate", first, "--no-progress", "--strategy", "promptcache",
            *(["--strategy", "none"] if g.chance(0.5) else []),
            *(["--json"] if g.chance(0.5) else [])]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cli")


@settings(FUZZ, max_examples=BUDGET["cli"])
@given(seed=seeds, command=st.sampled_from(["plan", "plan", "lint", "diff", "simulate"]),
       kind=st.sampled_from(["request", "request", "request", "junk", "bytes", "deep", "trace"]))
def test_cli_on_generated_files(workdir: Path, seed: int, command: str, kind: str) -> None:
    g = Gen(seed)
    first, second = workdir / ("a.jsonl" if kind == "trace" else "a.json"), workdir / "b.json"
    data = _content(g, kind)
    first.write_bytes(data)
    second.write_bytes(_content(g, g.r.choice(["request", "junk"])))
    argv = _argv(g, command, str(first), str(second))
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Exception as e:
        if known(e) is None:
            raise
        return
    assert code in (0, 1, 2), argv
    if code == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("promptcache: error: "), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 0 and argv[:1] == ["plan"] and "--json" in argv and "--provider" not in argv \
            and "--ignore-markers" not in argv and "--automatic" not in argv and kind == "request":
        _check_request_level_marker(json.loads(data.decode("utf-8", "surrogatepass")),
                                    json.loads(out.getvalue()))


def _check_request_level_marker(request: Any, plan: dict[str, Any]) -> None:
    """A request-level ``cache_control`` is kept by ``plan``: reserved and in the rendered request."""
    marker = request.get("cache_control") if isinstance(request, dict) else None
    if not isinstance(marker, dict):
        return
    assert plan["automatic_ttl"] == marker.get("ttl", "5m")
    if plan["request"] is not None:
        assert plan["request"].get("cache_control") == marker
