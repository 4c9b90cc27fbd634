"""Tests of promptcache's docs area (the folder mirrors the package)."""
