"""``promptcache diff`` and ``promptcache lint``: output, --json, and exit codes usable in CI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from promptcache.cli import main
from tests.helpers import text_of, tool

MODEL = "claude-sonnet-4-5"


def request() -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "tools": [tool("fetch"), tool("search")],
            "system": [{"type": "text", "text": text_of(2_000),
                        "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hello"}]}


def write(tmp_path: Path, name: str, value: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


def test_diff_json_reports_the_row_and_exits_1_when_a_level_is_invalidated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = request()
    a["messages"][0]["content"] = [{"type": "text", "text": "hello",
                                    "cache_control": {"type": "ephemeral"}}]
    b = {**a, "tool_choice": {"type": "any"}}
    code = main(["diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["invalidated"] == ["messages"] and out["change"]["rows"] == ["tool_choice"]


def test_diff_exits_0_when_only_markers_moved(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    b = copy.deepcopy(request())
    b["tools"][1]["cache_control"] = {"type": "ephemeral"}
    code = main(["diff", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", b)])
    out = capsys.readouterr().out
    assert code == 0
    assert "marker-only" in out and "tools[1]" in out


def test_diff_rich_output_names_the_first_difference(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    b = request()
    b["tools"][0]["description"] = "changed"
    main(["diff", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", b)])
    out = capsys.readouterr().out
    assert "tools[0]" in out and "tool definitions" in out


def test_diff_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diff", str(tmp_path / "nope.json"), write(tmp_path, "b.json", request())])
    assert code == 2
    assert "nope.json" in capsys.readouterr().err


def test_diff_of_a_malformed_request_exits_2_naming_the_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"model": MODEL, "messages": [{"role": "user", "content": 7}]}
    code = main(["diff", write(tmp_path, "a.json", request()), write(tmp_path, "b.json", bad)])
    assert code == 2
    assert "messages[0].content" in capsys.readouterr().err


def test_lint_clean_request_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", write(tmp_path, "r.json", request())]) == 0
    assert "no findings" in capsys.readouterr().out


def test_lint_findings_exit_1_and_list_path_rule_and_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = request()
    r["system"].insert(0, {"type": "text", "text": "Current time: 2026-11-23T10:00:00Z"})
    code = main(["lint", write(tmp_path, "r.json", r), "--json"])
    findings = json.loads(capsys.readouterr().out)
    assert code == 1
    assert findings[0]["rule"] == "volatile-content" and findings[0]["path"] == "system[0]"
    assert findings[0]["fix"]


def test_lint_fail_on_sets_the_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = request()
    r["tools"][0]["cache_control"] = {"type": "ephemeral"}  # below-minimum: a warning
    path = write(tmp_path, "r.json", r)
    assert main(["lint", path, "--fail-on", "error"]) == 0
    assert main(["lint", path, "--fail-on", "warning"]) == 1
    assert "below-minimum" in capsys.readouterr().out


def test_lint_reads_a_jsonl_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps({"t": i * 600, "request": request()}) + "\n"
                            for i in range(3)))
    code = main(["lint", str(path), "--json"])
    assert code == 1
    assert [f["rule"] for f in json.loads(capsys.readouterr().out)] == ["wasted-write"]


def test_lint_of_a_broken_trace_line_exits_2(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps({"t": 0, "request": request()}) + "\n[1, 2]\n")
    assert main(["lint", str(path)]) == 2
    assert "trace.jsonl:2" in capsys.readouterr().err


def test_lint_of_invalid_json_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    path.write_text("{")
    assert main(["lint", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
