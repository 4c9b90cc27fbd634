"""Tests of promptcache's planner area (the folder mirrors the package)."""
