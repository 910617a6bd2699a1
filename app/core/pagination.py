"""Pages of longer, ordered lists, as every list endpoint returns them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One window of a longer, ordered list."""

    items: list[T]
    total: int
    limit: int
    offset: int
