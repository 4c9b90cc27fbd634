"""Amazon Bedrock's Converse API (boto3 ``bedrock-runtime``): rendering with ``cachePoint``
blocks, usage parsing, the offline cache simulator and a loopback server with AWS event-stream
framing.

Deliberately empty: import the module you need (``render``, ``usage``, ``simulator``, ``server``).
Nothing here imports boto3; only the tests' clients and ``spec``'s recognition of a botocore
client (by its module name) touch it.
"""
