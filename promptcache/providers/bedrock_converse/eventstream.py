"""AWS event-stream framing (``application/vnd.amazon.eventstream``), the encoding side.

``converse_stream`` answers with a sequence of binary messages, which botocore decodes
(``botocore.eventstream``); botocore has no encoder, so the loopback server frames its events
here. One message::

    prelude   total length (uint32 BE), headers length (uint32 BE), CRC32 of those 8 bytes
    headers   each: name length (uint8), name, value type (7: string), value length (uint16 BE),
              value
    payload   the event's JSON
    trailer   CRC32 of everything before it

An event carries ``:message-type: event``, ``:event-type`` (``contentBlockDelta``...) and
``:content-type: application/json``; an error inside the stream carries
``:message-type: exception`` and ``:exception-type``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["CONTENT_TYPE", "encode_event", "encode_exception", "encode_message"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value))
            + raw_value)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string ``headers`` and ``payload``."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_event(event_type: str, body: Any) -> bytes:
    """An ``:event-type`` event whose payload is ``body`` as JSON."""
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(body).encode())


def encode_exception(exception_type: str, message: str) -> bytes:
    """An error inside the stream (``validationException``, ``throttlingException``...)."""
    return encode_message({":exception-type": exception_type,
                           ":content-type": "application/json", ":message-type": "exception"},
                          json.dumps({"message": message}).encode())
