"""The public surface: __all__ and the real exports never drift apart."""

from __future__ import annotations

import promptcache


def test_all_is_sorted_and_matches_the_exports() -> None:
    exported = set(promptcache.__all__)
    assert list(promptcache.__all__) == sorted(promptcache.__all__)
    missing = [name for name in exported if not hasattr(promptcache, name)]
    assert not missing
    public = {name for name in vars(promptcache) if not name.startswith("_")
              and not isinstance(getattr(promptcache, name), type(promptcache))}
    assert public - exported == set(), "public names not in __all__"
