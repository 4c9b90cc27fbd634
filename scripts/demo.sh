#!/usr/bin/env bash
# Set up and run the main job: the offline demo on the embedded simulator (no API key, no network).
EXTRAS="" source "$(dirname "$0")/_venv.sh"
exec .venv/bin/promptcache demo "$@"
