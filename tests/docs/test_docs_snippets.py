"""Every ```python block in README.md and docs/*.md runs as written: docs that cannot rot.

Convention, the same for every page:

* The blocks of one page run **in sequence, in one namespace**, like a reader typing them into
  one session: a later block may use what an earlier one defined (the README's quick start builds
  a prompt in one block and renders it in the next). Each page runs in a fresh interpreter, in an
  empty temporary directory, with ``-W error::DeprecationWarning``, and no network access is
  needed: snippets talk to the loopback servers of ``promptcache.testing``.
* A block runs as written in a script: no ``await`` at the top level (a reader who pastes it
  into a file gets a SyntaxError); async code goes in an ``async def`` run by ``asyncio.run``.
* A block that cannot run offline (it calls a real API with a real key, or needs a service) is
  preceded by an HTML comment ``<!-- no-run: why -->`` on the line just before its fence; the
  reason is required and shows to no reader of the rendered page. Such a block is skipped, and the
  blocks after it must not depend on it.
* A failure names the page, the block's line in the page and the snippet's own line.

``tests/docs/test_readme.py`` keeps its README-specific checks (the quick start's two commands and the
expected output); this test covers every page, the README included.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_NO_RUN = re.compile(r"<!--\s*no-run:(.*?)-->\s*$")

#: Pages whose snippets fail today because of a doc another engineer is rewriting: xfail (not
#: strict: the fix lands in their commit), each with what fails. Empty means every page runs.
BROKEN_PAGES: dict[str, str] = {
}


@dataclass(frozen=True, slots=True)
class Snippet:
    line: int
    code: str
    skip: str | None


def snippets(page: Path) -> list[Snippet]:
    """The page's python blocks, with their first line number and no-run reason if any."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _NO_RUN.search(before)
        out.append(Snippet(line=line + 1, code=match.group(1),
                           skip=marker.group(1).strip() if marker else None))
    return out


_RUNNER = """
import ast, asyncio, inspect, json, sys
namespace = {"__name__": "__main__"}
loop = asyncio.new_event_loop()
for page, line, code in json.loads(sys.stdin.read()):
    compiled = compile(code, f"{page}, block at line {line}", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        loop.run_until_complete(result)
loop.close()
"""


def _runnable() -> list[Path]:
    return [p for p in PAGES if any(s.skip is None for s in snippets(p))]


@pytest.mark.parametrize("page", [
    pytest.param(p, id=p.name, marks=[pytest.mark.xfail(reason=BROKEN_PAGES[p.name])]
                 if p.name in BROKEN_PAGES else []) for p in _runnable()])
def test_the_python_snippets_of_a_page_run_as_written(page: Path, tmp_path: Path) -> None:
    blocks = [(page.name, s.line, s.code) for s in snippets(page) if s.skip is None]
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", _RUNNER],
                            input=json.dumps(blocks), capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]


def test_no_block_awaits_at_the_top_level() -> None:
    for page in PAGES:
        for s in snippets(page):
            try:
                compile(s.code, f"{page.name}, block at line {s.line}", "exec")
            except SyntaxError as e:
                raise AssertionError(f"{page.name}, block at line {s.line}: {e.msg} (a "
                                     "script would fail: wrap it in asyncio.run)") from None


def test_every_no_run_marker_gives_its_reason() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"<!--\s*no-run:(.*?)-->", text):
            assert match.group(1).strip(), f"{page.name}: a no-run marker without a reason"


def test_the_extractor_finds_the_blocks_and_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\n<!-- no-run: needs a real key -->\n"
                    "```python\nclient.messages.create()\n```\n\n```bash\nls\n```\n")
    found = snippets(page)
    assert [(s.line, s.code, s.skip) for s in found] == [
        (4, "x = 1\n", None), (9, "client.messages.create()\n", "needs a real key")]
