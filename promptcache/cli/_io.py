"""Shared by ``promptcache diff`` and ``promptcache lint``: read request files, report errors.

A user mistake (missing file, bad JSON, malformed request) exits 2 with one sentence naming the
file and the path, never a traceback: these commands run in CI, where a traceback hides the fix.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from promptcache.errors import PromptCacheError

__all__ = ["USAGE_ERROR", "fail", "read_json"]

#: Exit code for a usage or parse error (1 is reserved for "findings" / "cache invalidated").
USAGE_ERROR = 2


def read_json(path: str) -> Any:
    """The parsed JSON of ``path``; raises PromptCacheError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise PromptCacheError(f"Cannot read {path!r}: {e.strerror or e}.") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise PromptCacheError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, "
                               f"column {e.colno}).") from e


def fail(error: Exception) -> int:
    """Print ``error`` as one line on stderr and return the usage-error exit code."""
    print(f"promptcache: error: {error}", file=sys.stderr)
    return USAGE_ERROR
