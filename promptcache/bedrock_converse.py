"""Amazon Bedrock's Converse API: ``cachePoint`` rendering, request reading and usage, on boto3.

:func:`render_bedrock_converse` turns a Prompt into ``converse(**kwargs)`` with at most four
``cachePoint`` blocks, none below the model's minimum; :func:`prompt_from_converse` reads a
Converse request into a Prompt; :func:`usage_from_converse` reads a response's (or a stream's)
usage. ``wrap(boto3_client)`` and ``ChatSession(boto3_client, ...)`` use them for you. Nothing
here imports boto3 (``pip install "promptcache[bedrock]"`` for the client itself).
"""

from __future__ import annotations

from promptcache.providers.bedrock_converse.render import (
    converse_limits,
    plan_converse,
    render_bedrock_converse,
)
from promptcache.providers.bedrock_converse.request import prompt_from_converse
from promptcache.providers.bedrock_converse.usage import ConverseStreamUsage, usage_from_converse

__all__ = [
    "ConverseStreamUsage",
    "converse_limits",
    "plan_converse",
    "prompt_from_converse",
    "render_bedrock_converse",
    "usage_from_converse",
]
