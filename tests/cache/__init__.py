"""Tests of promptcache's cache area (the folder mirrors the package)."""
