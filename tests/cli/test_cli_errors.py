"""The CLI's contract with scripts and CI: errors on stderr with exit 2, never a traceback.

Also ``--version``, ``plan --provider``, secrets masked in plan output and in error messages,
``simulate --json`` without a baseline, and a reader that closes the pipe early.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptcache.cli import main
from promptcache.replay.workloads import agent_tool_loop, chat_with_tools, save_trace

SECRET = "sk-ant-api03-DO-NOT-PRINT-0123456789"


def _request(turns: int = 3) -> dict[str, Any]:
    return dict(chat_with_tools(sessions=1, turns=turns).requests[-1].request)


def _write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return str(path)


BAD_FILES: dict[str, bytes | str | None] = {
    "missing": None,
    "latin-1": b'{"model": "caf\xe9", "messages": []}',
    "not-json": "{nope",
    "json-100k-deep": "[" * 100_000 + "]" * 100_000,
    "not-an-object": "[1, 2]",
    "empty": "",
}


def _command(name: str, path: str) -> list[str]:
    return {"plan": ["plan", path], "lint": ["lint", path], "diff": ["diff", path, path],
            "simulate": ["simulate", path, "--no-progress"]}[name]


@pytest.mark.parametrize("command", ["plan", "lint", "diff", "simulate"])
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_is_one_line_on_stderr_and_exit_2(tmp_path: Path, command: str, kind: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = BAD_FILES[kind]
    path = str(tmp_path / "absent.json") if data is None else _write(tmp_path, "f.json", data)
    if command == "lint" and kind == "not-an-object":
        return  # a JSON list is a trace for lint: valid input
    code = main(_command(command, path))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("promptcache: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""


def test_a_request_nested_500_deep_never_gives_a_traceback(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    deep: Any = 1
    for _ in range(500):
        deep = {"a": deep}
    request = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi", "extra": deep}]}]}
    path = _write(tmp_path, "deep.json", json.dumps(request))
    for command in ("plan", "lint", "diff"):
        code = main(_command(command, path))
        _, err = capsys.readouterr()
        assert code in (0, 1, 2) and "Traceback" not in err
        if code == 2:
            assert err.startswith("promptcache: error: ")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import promptcache

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"promptcache {promptcache.__version__}"


def test_no_command_prints_usage_on_stderr_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage: promptcache" in err


def test_plan_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(_request()).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["plan", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["breakpoints"]


@pytest.mark.parametrize(("provider", "model", "api", "expected_api"), [
    ("openai", "gpt-5.6", "chat", "chat.completions"),
    ("openai", "gpt-4.1", "responses", "responses"),
    ("gemini", "gemini-2.5-flash", "chat", "generate_content"),
])
def test_plan_renders_for_the_chosen_provider(tmp_path: Path, provider: str, model: str, api: str,
                                              expected_api: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "r.json", json.dumps(_request()))
    assert main(["plan", path, "--provider", provider, "--model", model, "--api", api,
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["provider"], plan["api"], plan["model"]) == (provider, expected_api, model)
    assert plan["request"]["model"] == model
    assert plan["cached_prefix_tokens"] > 0
    assert main(["plan", path, "--provider", provider, "--model", model, "--api", api]) == 0
    assert f"{provider} {expected_api} ({model})" in capsys.readouterr().out


def test_plan_for_another_provider_needs_its_model(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "r.json", json.dumps(_request()))
    assert main(["plan", path, "--provider", "openai"]) == 2
    assert "--model" in capsys.readouterr().err


def test_plan_json_masks_credentials_but_keeps_their_keys(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    request = {**_request(), "extra_headers": {"x-api-key": SECRET, "anthropic-beta": "b-1"},
               "extra_body": {"api_key": SECRET, "note": SECRET, "n": 3}}
    path = _write(tmp_path, "r.json", json.dumps(request))
    assert main(["plan", path, "--json"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    sent = json.loads(out)["request"]
    assert sent["extra_headers"] == {"x-api-key": "<redacted>", "anthropic-beta": "b-1"}
    assert sent["extra_body"] == {"api_key": "<redacted>", "note": "<redacted>", "n": 3}


def test_error_messages_never_print_a_header_value(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever message names the bad value (here an unknown model), a credential is masked."""
    request = {**_request(), "extra_headers": {"authorization": SECRET}, "model": SECRET}
    path = _write(tmp_path, "r.json", json.dumps(request))
    assert main(["plan", path]) == 2
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert "<redacted>" in err


def test_simulate_json_without_the_none_strategy_has_no_saving_figure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.jsonl"
    save_trace(agent_tool_loop(tasks=1, steps=3), path)
    assert main(["simulate", str(path), "--json", "--strategy", "promptcache"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["saving_vs_none"] for r in rows] == [None]
    assert main(["simulate", str(path), "--json", "--strategy", "promptcache",
                 "--strategy", "none"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert all(isinstance(r["saving_vs_none"], float) for r in rows)


@pytest.mark.parametrize("flags", [["--json"], []], ids=["json", "tables"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, flags: list[str]) -> None:
    """``promptcache plan [--json] big.json | head -c 100``: no traceback, exit 0."""
    path = _write(tmp_path, "big.json", json.dumps(_request(turns=60)))
    proc = subprocess.Popen([sys.executable, "-m", "promptcache", "plan", path, *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize(("provider", "model"), [("openai", "gpt-4.1"),
                                                 ("gemini", "gemini-2.5-flash")])
def test_plan_for_other_providers_masks_credentials_too(tmp_path: Path, provider: str, model: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    request = {**_request(), "extra_headers": {"x-goog-api-key": SECRET, "x-team": "search"}}
    path = _write(tmp_path, "r.json", json.dumps(request))
    assert main(["plan", path, "--provider", provider, "--model", model, "--json"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "<redacted>" in out
