"""How a model reports the tokens it produces (to the `citestream_llm_tokens_total` counter)."""

from __future__ import annotations

from collections.abc import Callable

TokenCounter = Callable[[int], None]


def ignore_tokens(_count: int) -> None:
    """A token counter that counts nothing."""
    return
