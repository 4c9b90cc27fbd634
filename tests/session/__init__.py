"""Tests of promptcache's session area (the folder mirrors the package)."""
