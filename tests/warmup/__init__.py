"""Tests of promptcache's warmup area (the folder mirrors the package)."""
