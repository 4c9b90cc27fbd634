"""The OpenAI adapter: rendering, usage parsing, the offline cache simulator and loopback server.

Deliberately empty: import the module you need (``render``, ``usage``, ``simulator``, ``server``),
or the public facade :mod:`promptcache.openai`.
"""
