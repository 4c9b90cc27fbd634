"""block_flags answers has_image and citations_on in one walk: the same answers, on any shape."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from promptcache.blocks import Block
from promptcache.positions import block_flags, citations_on, has_image


class _Frozen(Mapping[str, Any]):
    """A Mapping that is not a dict: told apart by the ABC check, not by its type."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(
    ["image", "text", "tool_result", "enabled", ""]))
_key = st.sampled_from(["type", "citations", "enabled", "content", "source", "text"])


def _values() -> st.SearchStrategy[Any]:
    return st.recursive(_leaf, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_key, inner, max_size=4),
        st.dictionaries(_key, inner, max_size=3).map(_Frozen),
        st.dictionaries(_key, inner, max_size=3).map(MappingProxyType),
    ), max_leaves=20)


@given(st.dictionaries(_key, _values(), max_size=5))
def test_block_flags_agrees_with_the_two_walks(block: dict[str, Any]) -> None:
    assert block_flags(block) == (has_image(block), citations_on(block))


def test_an_image_nested_in_a_tool_result_is_seen_by_the_block() -> None:
    payload = {"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "text", "text": "see"}, {"type": "image", "source": {"type": "url", "url": "u"}}]}
    block = Block(section="messages", kind="message", payload=payload, path="p", tokens=1,
                  layer="conversation")
    assert (block.image, block.citations) == (True, False)


def test_citations_enabled_on_a_document_are_seen_by_the_block() -> None:
    payload = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                              "data": "d"}, "citations": {"enabled": True}}
    block = Block(section="messages", kind="message", payload=payload, path="p", tokens=1,
                  layer="conversation")
    assert (block.image, block.citations) == (False, True)
