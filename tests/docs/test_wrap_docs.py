"""docs/drop-in.md's Python snippets run, in order, as one program, and print what they say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parent.parent.parent / "docs" / "drop-in.md"


def test_drop_in_doc_snippets_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 4
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c",
                             "\n".join(blocks)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "0" and int(lines[1]) > 3_000
    assert "['UnplannedRequestWarning']" in lines
    assert lines[-1] == "1"
