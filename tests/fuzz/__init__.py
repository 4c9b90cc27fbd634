"""Tests of promptcache's fuzz area (the folder mirrors the package)."""
