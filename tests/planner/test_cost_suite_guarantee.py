"""The non-negotiable, on the cost suite's ten workloads as the benchmark builds them: in one
process promptcache costs no more than the hand placement, the provider's automatic mode and no
caching. (The benchmark measures the rest; this test keeps a planner change from breaking it.)"""

from __future__ import annotations

import pytest

from promptcache.replay.compare import compare
from promptcache.replay.scenarios import SCENARIOS
from promptcache.replay.workloads import WORKLOADS

SUITE = {**WORKLOADS, **SCENARIOS}


@pytest.mark.parametrize("name", sorted(SUITE))
def test_promptcache_costs_no_more_than_any_fixed_alternative(name: str) -> None:
    results = compare(SUITE[name](), ("promptcache", "hand", "automatic", "none"))
    ours = results["promptcache"].billed
    for other in ("hand", "automatic", "none"):
        # A 1e-9 relative slack for float summation order only.
        assert ours <= results[other].billed * (1 + 1e-9), (name, other, ours,
                                                            results[other].billed)
