"""What a worker writes to Redis of the runs it executes, put together into one call of the
WRITE_RUNS script (app/runs/redis_scripts.py): its keys, and its writes as one JSON argument."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from app.core.runs import RunRecord, StoredEvent
from app.runs.redis_fields import record_pairs


@dataclass(frozen=True, slots=True)
class RunKeys:
    """The names of a run's keys in Redis."""

    prefix: str

    def run(self, run_id: uuid.UUID) -> str:
        return f"{self.prefix}:run:{run_id}"

    def events(self, run_id: uuid.UUID) -> str:
        return f"{self.prefix}:run:{run_id}:events"

    def session(self, session_id: uuid.UUID) -> str:
        """The latest run of a session, for a client that finds its chat again."""
        return f"{self.prefix}:session:{session_id}:run"


@dataclass(frozen=True, slots=True)
class RunState:
    """A run's record to write; `new` also names it the latest run of its session."""

    record: RunRecord
    new: bool = False


@dataclass(frozen=True, slots=True)
class ListenerMark:
    """Someone on this worker follows the run, at `at` (ISO 8601)."""

    run_id: uuid.UUID
    at: str


# In the order written. A run's event, the hot path, is a plain tuple.
OwnerWrite = tuple[uuid.UUID, StoredEvent] | RunState | ListenerMark


class WriteBatch:
    """`writes` as WRITE_RUNS takes them: `keys` (KEYS) and `argument` (its last ARGV)."""

    def __init__(self, writes: list[OwnerWrite], keys: RunKeys) -> None:
        places: dict[str, int] = {}  # each key's place in KEYS, counted from 1 in Lua

        def place(key: str) -> int:
            return places.setdefault(key, len(places) + 1)

        events, states, marks = [], [], []
        for write in writes:
            if isinstance(write, tuple):
                run_id, event = write
                events.append(
                    (place(keys.events(run_id)), f"0-{event.seq}", event.kind, event.data)
                )
            elif isinstance(write, RunState):
                record = write.record
                states.append(
                    (
                        place(keys.run(record.run_id)),
                        place(keys.events(record.run_id)),
                        record_pairs(record),
                        1 if record.status.finished else 0,
                        place(keys.session(record.session_id)) if write.new else 0,
                        str(record.run_id),
                    )
                )
            else:
                marks.append((place(keys.run(write.run_id)), write.at))
        self.keys = list(places)
        self.events = len(events)
        self.argument = json.dumps({"e": events, "s": states, "l": marks})
