"""What is known about a run, wherever it executes (shared by the run stores, the services
and the API)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self != RunStatus.RUNNING


class CancelOrigin(enum.StrEnum):
    """Who stopped a run: the `error` event's code and the cancels metric say so."""

    API = "api"  # POST /api/runs/{id}/cancel, from any worker
    DISCONNECT = "disconnect"  # the connection that started it closed (POST chat endpoints)
    ORPHANED = "orphaned"  # nobody listened for the orphan grace
    SHUTDOWN = "shutdown"  # the server drained and the run did not end in time


@dataclass(frozen=True)
class RunRecord:
    """A run's identity, state and timings."""

    run_id: uuid.UUID
    session_id: uuid.UUID
    message_id: uuid.UUID
    owner: str  # the worker that executes it
    background: bool
    status: RunStatus
    created_at: datetime
    first_token_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    # The number of the run's final event, once it has one: a listener that has seen it has
    # seen everything.
    final_seq: int | None = None
    # The principal that asked: only it (and admins) may follow, inspect or cancel the run.
    principal_id: str = "local"

    def but(self, **changes: object) -> RunRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StoredEvent:
    """One event as a shared log holds it: its number, its kind and its encoded data."""

    seq: int
    kind: str
    data: str
