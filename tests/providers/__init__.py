"""Tests of promptcache's providers area (the folder mirrors the package)."""
