"""Old public names kept as deprecated aliases, so code written against them keeps working.

A module that renamed a public name sets ``__getattr__ = renamed(__name__, {"Old": "New"},
globals())``: the old name still resolves, with a DeprecationWarning that names the new one.
The renames are listed in docs/architecture.md ("Renamed names").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["renamed"]


def renamed(module: str, names: Mapping[str, str], namespace: Mapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name in ``names`` to its new name in
    ``namespace`` (the module's globals), with a DeprecationWarning at the caller."""

    def __getattr__(name: str) -> Any:
        new = names.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is deprecated: it was renamed {new} (same object); "
                      "the old name will be removed in a future release.",
                      DeprecationWarning, stacklevel=2)
        return namespace[new]

    return __getattr__
