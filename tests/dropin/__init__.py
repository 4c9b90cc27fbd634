"""Tests of promptcache's dropin area (the folder mirrors the package)."""
