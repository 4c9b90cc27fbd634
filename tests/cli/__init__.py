"""Tests of promptcache's cli area (the folder mirrors the package)."""
