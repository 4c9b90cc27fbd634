"""The README's Python snippets run, in order, as one program: docs that cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent.parent / "README.md"


def test_readme_python_snippets_run(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", str(script)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "max-breakpoints system[4]" in result.stdout


def test_readme_quick_start_has_exactly_two_commands() -> None:
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick, flags=re.S)
    lines = [line for block in commands for line in block.splitlines() if line.strip()]
    assert len(lines) == 2
    ci = (Path(__file__).parent.parent.parent / ".ci" / "run").read_text()
    assert lines[1].split("#")[0].strip() in ci
