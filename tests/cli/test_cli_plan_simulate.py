"""`promptcache plan` and `promptcache simulate`, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptcache.cli import main
from promptcache.replay.workloads import agent_tool_loop, chat_with_tools, save_trace


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(dict(chat_with_tools(sessions=1, turns=3).requests[-1].request)))
    return path


def test_plan_json_lists_breakpoints_layers_and_the_rendered_request(
        request_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(request_file), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in plan["layers"]] == ["tools", "system", "conversation"]
    assert 1 <= len(plan["breakpoints"]) <= 4
    assert all(b["reason"] for b in plan["breakpoints"])
    marked = json.dumps(plan["request"]).count('"cache_control"')
    assert marked == len(plan["breakpoints"])
    assert plan["expected"]["billed_usd"] < plan["expected"]["uncached_usd"]


def test_plan_prints_tables_with_each_reason(request_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(request_file)]) == 0
    out = capsys.readouterr().out
    assert "Breakpoints" in out and "end of layer" in out and "Steady state" in out


def test_plan_keeps_user_markers_unless_told(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    request = dict(chat_with_tools(sessions=1, turns=1).requests[0].request)
    request["system"] = [{**request["system"][0], "cache_control": {"type": "ephemeral"}}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(request))
    assert main(["plan", str(path), "--json"]) == 0
    sources = {b["source"] for b in json.loads(capsys.readouterr().out)["breakpoints"]}
    assert "user" in sources
    assert main(["plan", str(path), "--json", "--ignore-markers"]) == 0
    sources = {b["source"] for b in json.loads(capsys.readouterr().out)["breakpoints"]}
    assert "user" not in sources


def test_plan_reports_a_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    path.write_text("{nope")
    assert main(["plan", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "not valid JSON" in err and not out


def test_simulate_reports_each_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.jsonl"
    save_trace(agent_tool_loop(tasks=1, steps=4), path)
    assert main(["simulate", str(path), "--json", "--strategy", "promptcache",
                 "--strategy", "none", "--strategy", "clairvoyant"]) == 0
    rows = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert set(rows) == {"promptcache", "none", "clairvoyant"}
    assert rows["promptcache"]["billed_usd"] < rows["none"]["billed_usd"]
    assert rows["promptcache"]["saving_vs_none"] > 0


def test_simulate_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chat.jsonl"
    save_trace(chat_with_tools(sessions=1, turns=3), path)
    assert main(["simulate", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert all(s in out for s in ("promptcache", "automatic", "hand", "none"))


def test_simulate_names_the_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 0, "request": {"model": "claude-sonnet-4-5", "messages": []}}\n{"t": "x"}\n')
    assert main(["simulate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "bad.jsonl line 2" in err and not out


LONG = "The handbook covers leave, expenses and travel in detail. " * 200


@pytest.mark.parametrize(("request_", "provider", "api"), [
    ({"model": "gpt-4o", "max_completion_tokens": 64, "messages": [
        {"role": "system", "content": LONG}, {"role": "user", "content": "Hi"}]},
     "openai", "chat.completions"),
    ({"model": "gpt-5.6", "instructions": LONG, "max_output_tokens": 64,
      "input": [{"role": "user", "content": "Hi"}]}, "openai", "responses"),
    ({"model": "gemini-2.5-flash", "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
      "config": {"system_instruction": LONG, "max_output_tokens": 64}},
     "gemini", "generate_content"),
])
def test_plan_reads_the_provider_from_the_request_shape(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], request_: dict[str, object],
        provider: str, api: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(request_))
    assert main(["plan", str(path), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["provider"], plan["api"], plan["model"]) == (provider, api, request_["model"])
    assert plan["total_tokens"] > 2_000
    assert main(["plan", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"{provider} {api} ({request_['model']})" in out and not err


def test_plan_never_imports_a_provider_sdk(request_file: Path) -> None:
    """Importing the anthropic SDK was 75% of ``promptcache plan``'s time: the parameter check
    reads the SDK's source instead (timings in docs/benchmarks.md)."""
    import subprocess
    import sys

    code = ("import sys, io, contextlib\nfrom promptcache.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['plan', {str(request_file)!r}]) == 0\n"
            "print(sorted(m for m in ('anthropic', 'openai', 'google.genai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


NON_CLAUDE = {
    "chat": {"model": "gpt-5.6", "messages": [{"role": "system", "content": LONG},
                                              {"role": "user", "content": "Hi"}]},
    "responses": {"model": "gpt-5.6", "instructions": LONG,
                  "input": [{"role": "user", "content": "Hi"}]},
    "gemini": {"model": "gemini-2.5-flash", "config": {"system_instruction": LONG},
               "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
}


@pytest.mark.parametrize(("name", "extra"), [
    ("chat", []), ("responses", []), ("gemini", []), ("gemini", ["--json"]),
    ("claude", ["--provider", "openai", "--model", "gpt-5.6"]),
    ("claude", ["--provider", "gemini", "--model", "gemini-2.5-flash"]),
])
def test_plan_of_an_openai_or_gemini_request_never_imports_a_provider_sdk(
        tmp_path: Path, request_file: Path, name: str, extra: list[str]) -> None:
    """The OpenAI and Gemini renderers imported their SDK (about 0.4 s and 0.6 s idle) only to
    check it was installed, and the Gemini one to validate a config a preview never sends."""
    import subprocess
    import sys

    path = request_file if name == "claude" else tmp_path / f"{name}.json"
    if name != "claude":
        path.write_text(json.dumps(NON_CLAUDE[name]))
    code = ("import sys, io, contextlib\nfrom promptcache.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['plan', {str(path)!r}, *{extra!r}]) == 0\n"
            "print(sorted(m for m in ('anthropic', 'openai', 'google.genai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_parameters_read_from_the_sdk_source_are_the_sdks_own() -> None:
    import inspect

    from anthropic.resources.messages import Messages

    from promptcache.providers.anthropic.render import _parameters_from_source

    assert _parameters_from_source() == set(inspect.signature(Messages.create).parameters) - {"self"}


CONVERSE_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def _converse_request(**extra: object) -> dict[str, object]:
    """A boto3 ``converse`` call's keyword arguments: modelId, messages, system, toolConfig."""
    tools = [{"toolSpec": {"name": "lookup", "description": "Looks up a policy. " * 60,
                           "inputSchema": {"json": {"type": "object",
                                                    "properties": {"q": {"type": "string"}}}}}}]
    return {"modelId": CONVERSE_MODEL, "system": [{"text": LONG}],
            "toolConfig": {"tools": tools},
            "messages": [{"role": "user", "content": [{"text": "How many leave days?"}]}],
            "inferenceConfig": {"maxTokens": 64}, **extra}


def _points(value: object) -> int:
    return json.dumps(value).count('"cachePoint"')


def test_plan_reads_a_converse_request_and_renders_its_cache_points(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "converse.json"
    path.write_text(json.dumps(_converse_request()))
    assert main(["plan", str(path), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["provider"] == "bedrock_converse" and plan["model"] == CONVERSE_MODEL
    assert 1 <= len(plan["breakpoints"]) <= 4
    assert all(b["prefix_tokens"] >= plan["min_cacheable_tokens"] for b in plan["breakpoints"])
    assert plan["request"]["modelId"] == CONVERSE_MODEL
    assert "cache_control" not in json.dumps(plan["request"])
    assert _points(plan["request"]) == len(plan["breakpoints"])
    assert main(["plan", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"Layers of the {CONVERSE_MODEL} request" in out and "Breakpoints" in out and not err


def test_plan_keeps_converse_cache_points_unless_told(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = _converse_request()
    request["system"] = [{"text": LONG}, {"cachePoint": {"type": "default"}}]
    path = tmp_path / "converse.json"
    path.write_text(json.dumps(request))
    assert main(["plan", str(path), "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert "user" in {b["source"] for b in kept["breakpoints"]}
    assert main(["plan", str(path), "--json", "--ignore-markers"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert "user" not in {b["source"] for b in fresh["breakpoints"]}


def test_plan_renders_an_anthropic_request_for_converse(
        request_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(request_file), "--provider", "bedrock_converse"]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["plan", str(request_file), "--provider", "bedrock_converse",
                 "--model", CONVERSE_MODEL, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["request"]["modelId"] == CONVERSE_MODEL
    assert _points(plan["request"]) == len(plan["breakpoints"]) >= 1


def test_plan_of_a_converse_request_never_imports_boto3(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "converse.json"
    path.write_text(json.dumps(_converse_request()))
    code = ("import sys, io, contextlib\nfrom promptcache.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['plan', {str(path)!r}]) == 0\n"
            "print(sorted(m for m in ('boto3', 'botocore', 'anthropic', 'openai', 'google.genai')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
