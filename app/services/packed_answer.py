"""An ended run's events in a fraction of the memory they took while it ran.

An ended run is kept for `chat.retention_s` (ten minutes by default) so that a client can still
resume it. Kept as they were written, its events cost an object and a string per token, about
a hundred bytes each: a few hundred answers of a few hundred tokens held tens of megabytes after
the load that made them had gone. Packed, an answer's tokens are one string and one array of
offsets, and each event is rebuilt, identical, only when a resume asks for it.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Sequence
from typing import overload

from app.services.answer_events import AnswerDelta, AnswerEvent


class PackedAnswer(Sequence[AnswerEvent]):
    """The events before the answer's text, its deltas as text + offsets, the events after."""

    __slots__ = ("_ends", "_head", "_tail", "_text")

    def __init__(
        self,
        head: list[AnswerEvent],
        text: str,
        ends: array[int],
        tail: list[AnswerEvent],
    ) -> None:
        self._head = head
        self._text = text
        self._ends = ends
        self._tail = tail

    @classmethod
    def of(cls, events: list[AnswerEvent]) -> Sequence[AnswerEvent]:
        """`events` packed, or as they are when their deltas are not one unbroken block."""
        first = next((i for i, e in enumerate(events) if isinstance(e, AnswerDelta)), None)
        if first is None:
            return events
        last = first
        while last < len(events) and isinstance(events[last], AnswerDelta):
            last += 1
        if any(isinstance(event, AnswerDelta) for event in events[last:]):
            return events
        texts = [event.text for event in events[first:last] if isinstance(event, AnswerDelta)]
        ends = array("I", itertools.accumulate(len(text) for text in texts))
        return cls(events[:first], "".join(texts), ends, events[last:])

    def __len__(self) -> int:
        return len(self._head) + len(self._ends) + len(self._tail)

    @overload
    def __getitem__(self, index: int) -> AnswerEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[AnswerEvent]: ...

    def __getitem__(self, index: int | slice) -> AnswerEvent | list[AnswerEvent]:
        if isinstance(index, slice):
            return [self._at(position) for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("event index out of range")
        return self._at(position)

    def _at(self, position: int) -> AnswerEvent:
        if position < len(self._head):
            return self._head[position]
        position -= len(self._head)
        if position < len(self._ends):
            start = self._ends[position - 1] if position else 0
            return AnswerDelta(self._text[start : self._ends[position]])
        return self._tail[position - len(self._ends)]
