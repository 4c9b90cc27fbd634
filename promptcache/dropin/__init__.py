"""Drop-in caching for existing code: ``wrap(client)`` and keep calling the SDK as before.

See ``docs/drop-in.md``. ``client.promptcache`` (a :class:`WrapHandle`) holds the ledger, the
state and the last call's plan; :class:`UnplannedRequestWarning` says a call was sent as written.
"""

from __future__ import annotations

from promptcache.dropin._core import Prepared, UnplannedRequestWarning, WrapHandle, default_state
from promptcache.dropin._observe import CallObserver
from promptcache.dropin._wrap import handle_of, unwrap, wrap

__all__ = ["CallObserver", "Prepared", "UnplannedRequestWarning", "WrapHandle", "default_state",
           "handle_of", "unwrap", "wrap"]
