"""Every file in examples/ runs offline and exits cleanly: docs that cannot rot."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_offline(path: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")}
    env["PYTHONWARNINGS"] = "error::DeprecationWarning"
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "an example should show what it did"


def test_rag_example_reads_the_stable_prefix_after_documents_rotate() -> None:
    path = Path(__file__).parent.parent.parent / "examples" / "rag_with_tools.py"
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("q")]
    reads = [int(r.split("read")[1].split()[0].replace(",", "")) for r in rows]
    writes = [int(r.split("write")[1].split()[0].replace(",", "")) for r in rows]
    assert reads[0] == 0 and writes[0] > 0
    # When the documents rotate, tools + system are still read and only the documents rewritten.
    assert all(r > 0 for r in reads[1:])
    assert writes[2] < writes[0]


def test_agent_example_reads_grow_every_step() -> None:
    path = Path(__file__).parent.parent.parent / "examples" / "agent_loop.py"
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    reads = [int(re.search(r"read\s+([\d,]+)", line).group(1).replace(",", ""))  # type: ignore[union-attr]
             for line in out.splitlines() if line.startswith("step")]
    assert len(reads) == 6
    assert reads[1] > 1_000
    assert all(b > a + 1_000 for a, b in itertools.pairwise(reads[1:]))
