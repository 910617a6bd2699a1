"""An ended run's events, packed to be kept for resumes, read back exactly as they were."""

from __future__ import annotations

import tracemalloc
import uuid

import pytest

from app.core.errors import RunCancelled
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)
from app.services.packed_answer import PackedAnswer

STARTED = AnswerStarted(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
DELTAS: list[AnswerEvent] = [
    AnswerDelta(t) for t in ["Cite", "stream", "", " streams", " [1]", "é"]
]


@pytest.mark.parametrize(
    "events",
    [
        [STARTED, *DELTAS, AnswerSources(citations=[])],
        [STARTED, *DELTAS, AnswerFailed(RunCancelled(shutting_down=False))],
        [STARTED, *DELTAS],  # read while it was being closed
        [STARTED, AnswerFailed(RunCancelled(shutting_down=True))],  # no text at all
        [STARTED, DELTAS[0], AnswerSources(citations=[]), DELTAS[1]],  # not one block: as is
        [],
    ],
    ids=["completed", "failed", "no final event", "no deltas", "deltas not in one block", "empty"],
)
def test_every_event_reads_back_as_it_was_written(events: list[AnswerEvent]) -> None:
    packed = PackedAnswer.of(list(events))

    assert len(packed) == len(events)
    assert [packed[i] for i in range(len(events))] == events
    assert [packed[-i] for i in range(1, len(events) + 1)] == [
        events[-i] for i in range(1, len(events) + 1)
    ]
    for start in range(len(events) + 1):  # what a resume after each event gets
        assert list(packed[start:]) == events[start:]
    with pytest.raises(IndexError):
        packed[len(events)]


def test_a_long_answer_is_kept_in_a_fraction_of_its_memory() -> None:
    # 2,000 tokens: what an ended run costs for the ten minutes it is kept for resumes.
    def kept(pack: bool) -> int:
        tracemalloc.start()
        try:
            events: list[AnswerEvent] = [STARTED]
            events += [AnswerDelta(f" word{n % 50}") for n in range(2000)]
            events.append(AnswerSources(citations=[]))
            held = PackedAnswer.of(events) if pack else events
            del events
            size, _ = tracemalloc.get_traced_memory()
            assert held
            return size
        finally:
            tracemalloc.stop()

    assert kept(pack=True) * 5 < kept(pack=False)
