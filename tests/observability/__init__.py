"""Tests of promptcache's observability area (the folder mirrors the package)."""
