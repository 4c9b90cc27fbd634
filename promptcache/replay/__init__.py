"""Replay recorded or generated traces against the offline simulator, one strategy at a time.

The machinery behind ``promptcache demo``, ``promptcache simulate`` and ``benchmarks/``:
:mod:`.workloads` generates realistic traces, :mod:`.strategies` places markers the way each
alternative would (promptcache, the provider's automatic mode, hand placement, none, a clairvoyant
bound) and :mod:`.compare` replays them and totals the bill.
"""
