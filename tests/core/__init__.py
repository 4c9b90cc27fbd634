"""Tests of promptcache's core area (the folder mirrors the package)."""
