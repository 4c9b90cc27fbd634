"""``python -m promptcache`` runs the CLI."""

import sys

from promptcache.cli import main

sys.exit(main())
