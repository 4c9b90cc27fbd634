#!/usr/bin/env bash
# Set up and run the whole test suite: lint, types, tests (Redis tests use Debian's redis-server).
EXTRAS="[dev]" source "$(dirname "$0")/_venv.sh"
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's redis-server for the Redis backend tests..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is not installed and cannot be installed here: Redis tests will be skipped."
  fi
fi
.venv/bin/ruff check promptcache tests benchmarks examples
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
