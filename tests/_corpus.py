"""A corpus of prompts that carry every kind of content a renderer can lose, and the loss check.

The fuzz generator (:class:`tests._fuzz.Gen`) writes near-valid requests whose texts carry marker
words; this corpus adds, on top of its seeded requests, the content that is not text: a document's
``title`` and ``context`` (where ``add_documents`` puts the document's id and metadata), the
``citations`` switch on documents and search results, ``citations`` on assistant text, and
``search_result`` blocks, plus prompts built by ``PromptBuilder.add_documents``. :func:`lost`
says what of a Prompt's content a rendered request no longer holds and no ``plan.dropped`` entry
names: the property every renderer must keep is that this list is empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from promptcache import PromptBuilder, PromptCacheError
from promptcache.anthropic import prompt_from_request
from promptcache.prompt import Prompt

from ._fuzz import Gen, recorded_warnings

#: Keys whose string values are format or bookkeeping, not content a reader of the prompt sees.
_NOT_CONTENT = {"type", "media_type", "cache_control", "signature", "encrypted_content",
                "encrypted_index", "tool_use_id", "id", "is_error"}


def _atoms(value: Any, key: str = "") -> Iterator[str]:
    """The non-empty strings of ``value`` that are content (see :data:`_NOT_CONTENT`)."""
    if key in _NOT_CONTENT:
        return
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _atoms(v, str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _atoms(v, key)


def _switches(payload: Any) -> list[str]:
    """The settings of a block that change what the model does but are not text: citations."""
    found = []
    if isinstance(payload, dict):
        citations = payload.get("citations")
        if isinstance(citations, dict) and citations.get("enabled"):
            found.append("citations.enabled")
        if isinstance(citations, list) and citations:
            found.append("citations")
    return found


def _present(atom: str, text: str) -> bool:
    """``atom`` in a rendered request's JSON text, escaped once (a part) or twice (tool arguments)."""
    once = json.dumps(atom, ensure_ascii=False)[1:-1]
    twice = json.dumps(once, ensure_ascii=False)[1:-1]
    return once in text or twice in text


def lost(prompt: Prompt, rendered: Any, dropped: tuple[str, ...] | list[str]) -> list[str]:
    """What of ``prompt`` is neither in ``rendered`` nor named (by block path) in ``dropped``.

    An entry about citations excuses only the block's citations (its switch, the cited texts);
    any other entry naming the block excuses the whole block (dropped, or sent in part, said so).
    """
    text = json.dumps(rendered, ensure_ascii=False, default=str)
    out = []
    for block in prompt.blocks:
        entries = [d for d in dropped if d.startswith(block.path)
                   and d[len(block.path):len(block.path) + 1] in ":.[ "]
        if any("citations" not in d for d in entries):
            continue
        payload = dict(block.payload)
        if entries:  # about citations only
            payload.pop("citations", None)
        missing = [a for a in _atoms(payload) if not _present(a, text)]
        switches = [] if '"citations":' in text else _switches(payload)
        if missing or switches:
            out.append(f"{block.path}: {[m[:40] for m in missing] + switches}")
    return out


PDF = "JVBERi0xLjQKJcfsj6IK"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==")


class _Rich(Gen):
    """Gen with the content the fuzz corpus leaves out: titles, context, citations, search results."""

    def marked(self, block: dict[str, Any]) -> dict[str, Any]:
        """Fewer markers than the fuzz: more than four in a request is a refusal, not a render."""
        return super().marked(block) if self.chance(0.15) else block

    def user_block(self) -> Any:
        roll = self.r.random()
        if roll < 0.25:
            return self.document()
        if roll < 0.35:
            return self.search_result()
        return super().user_block()

    def assistant_block(self) -> dict[str, Any]:
        block = super().assistant_block()
        if block.get("type") == "text" and self.chance(0.4):
            block = {**block, "citations": [self.citation()]}
        return block

    def citation(self) -> dict[str, Any]:
        kind = self.r.choice(["char_location", "search_result_location",
                              "web_search_result_location"])
        if kind == "char_location":
            return {"type": kind, "cited_text": self.words(3), "document_index": 0,
                    "document_title": f"Doc {self.words(1)}", "start_char_index": 0,
                    "end_char_index": 10}
        if kind == "search_result_location":
            return {"type": kind, "cited_text": self.words(3), "source": "https://kb.example/a",
                    "title": f"KB {self.words(1)}", "search_result_index": 0,
                    "start_block_index": 0, "end_block_index": 0}
        return {"type": kind, "cited_text": self.words(3), "url": "https://example.org/n",
                "title": f"News {self.words(1)}", "encrypted_index": "Eo8B"}

    def document(self) -> dict[str, Any]:
        r = self.r
        source = r.choice([
            {"type": "text", "media_type": "text/plain", "data": self.words()},
            {"type": "text", "media_type": "text/plain", "data": self.words()},
            {"type": "base64", "media_type": "application/pdf", "data": PDF},
            {"type": "url", "url": "https://example.invalid/report.pdf"},
            {"type": "content", "content": [{"type": "text", "text": self.words()}]},
        ])
        block: dict[str, Any] = {"type": "document", "source": source}
        if self.chance(0.7):
            block["title"] = f"Title {self.words(1)}"
        if self.chance(0.6):
            block["context"] = f"id: d{r.randint(0, 99)}\nauthor: {self.words(1)}"
        if self.chance(0.4):
            block["citations"] = {"enabled": True}
        return self.marked(block)

    def search_result(self) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "search_result", "source": f"https://kb.example/{self.words(1)}",
                                 "title": f"Result {self.words(1)}",
                                 "content": [{"type": "text", "text": self.words()}]}
        if self.chance(0.5):
            block["citations"] = {"enabled": True}
        return self.marked(block)


def _built(seed: int) -> Prompt:
    """A prompt from ``PromptBuilder.add_documents``, as a RAG app would build one."""
    g = Gen(seed)
    docs = [{"id": f"doc-{seed}-{i}", "text": g.words(), "title": f"Title {g.words(1)}",
             "metadata": {"source": f"kb-{g.words(1)}"}} for i in range(g.r.randint(1, 3))]
    builder = PromptBuilder(model="claude-sonnet-4-6").add_system(g.words(40))
    builder.add_documents(docs, as_="document_blocks", citations=g.chance(0.5))
    return builder.add_user_turn(g.words()).set_params(max_tokens=64).build()


def corpus(size: int = 400) -> list[Prompt]:
    """``size`` seeded requests read into Prompts (those promptcache refuses left out), and 40
    built with ``add_documents``."""
    prompts: list[Prompt] = []
    seed = 0
    with recorded_warnings():
        while len(prompts) < size:
            seed += 1
            try:
                prompts.append(prompt_from_request(_Rich(seed).request()))
            except PromptCacheError:
                continue
        prompts.extend(_built(s) for s in range(40))
    return prompts
