"""A loopback Amazon Bedrock runtime backed by :class:`ConverseCacheSimulator`.

Serves ``POST /model/{modelId}/converse`` (JSON) and ``POST /model/{modelId}/converse-stream``
(AWS event-stream frames, :mod:`.eventstream`), well enough for the real boto3 client::

    boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")

Credentials are never checked (the signature is ignored). Errors come back as Bedrock's own:
``x-amzn-ErrorType: ValidationException`` and ``{"message": ...}``, which botocore raises as a
``ClientError`` whose code is ``ValidationException``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from promptcache.clock import Clock
from promptcache.providers._loopback import Exchange, LoopbackServer, ReplyText
from promptcache.providers._simerrors import SimulatedAPIError
from promptcache.providers.bedrock_converse.eventstream import CONTENT_TYPE, encode_event
from promptcache.providers.bedrock_converse.simulator import ConverseCacheSimulator

__all__ = ["ConverseServer"]


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class ConverseServer(LoopbackServer):
    """The fake Bedrock runtime. ``simulator`` and ``clock`` are exposed so tests can move time;
    ``results`` lists each request's :class:`ConverseCacheResult` (checkpoints, hit, writes)."""

    def __init__(self, *, clock: Clock | None = None, reply: ReplyText = "Simulated reply.",
                 simulator: ConverseCacheSimulator | None = None) -> None:
        super().__init__(clock=clock, reply=reply)
        self.simulator = simulator if simulator is not None else ConverseCacheSimulator(
            clock=self.clock)
        self.results: list[Any] = []
        self._ids = itertools.count(1)

    def route(self, exchange: Exchange) -> None:
        parts = exchange.path.strip("/").split("/")
        if exchange.method != "POST" or len(parts) != 3 or parts[0] != "model" \
                or parts[2] not in ("converse", "converse-stream"):
            exchange.send_json(404, {"message": f"No route for {exchange.method} {exchange.path}."},
                               headers={"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        try:
            body = exchange.body()
            if not isinstance(body, Mapping):
                raise SimulatedAPIError("The request body must be a JSON object.",
                                        rule="ValidationException")
            request = {**body, "modelId": unquote(parts[1])}
            text = self.reply_text(request)
            result = self.simulator.converse(request, output_tokens=self.count(text))
        except SimulatedAPIError as e:
            exchange.send_json(e.status_code, {"message": e.message},
                               headers={"x-amzn-ErrorType": "ValidationException"})
            return
        self.results.append(result)
        request_id = f"{next(self._ids):08d}-sim0-0000-0000-000000000000"
        headers = {"x-amzn-RequestId": request_id}
        if parts[2] == "converse":
            self.simulator.mark_started(result.request_id)
            exchange.send_json(200, {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn", "usage": result.usage, "metrics": {"latencyMs": 1},
            }, headers=headers)
            return
        frames = [encode_event("messageStart", {"role": "assistant"})]
        frames += [encode_event("contentBlockDelta", {"delta": {"text": piece},
                                                      "contentBlockIndex": 0})
                   for piece in _pieces(text)]
        frames += [encode_event("contentBlockStop", {"contentBlockIndex": 0}),
                   encode_event("messageStop", {"stopReason": "end_turn"}),
                   encode_event("metadata", {"usage": result.usage, "metrics": {"latencyMs": 1}})]
        self.simulator.mark_started(result.request_id)
        exchange.send_bytes(200, b"".join(frames), CONTENT_TYPE, headers=headers)
