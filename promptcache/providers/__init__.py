"""Provider adapters: render a Prompt + Plan into each SDK's request, parse what comes back.

Each adapter keeps its provider's specifics to itself; the core never imports a provider SDK.
"""
