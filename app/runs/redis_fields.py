"""How a run's record and events are written in Redis (hash fields, stream entries)."""

from __future__ import annotations

import uuid
from datetime import datetime

from redis.typing import EncodableT, FieldT

from app.core.runs import RunRecord, RunStatus, StoredEvent


def stored_event(entry_id: str, fields: dict[str, str]) -> StoredEvent:
    return StoredEvent(seq=int(entry_id.partition("-")[2]), kind=fields["k"], data=fields["d"])


def record_pairs(record: RunRecord) -> list[str]:
    """The record's hash fields as [field, value, field, value, ...]."""
    return [str(item) for pair in record_fields(record).items() for item in pair]


def record_fields(record: RunRecord) -> dict[FieldT, EncodableT]:
    fields: dict[FieldT, EncodableT] = {
        "session_id": str(record.session_id),
        "message_id": str(record.message_id),
        "owner": record.owner,
        "principal": record.principal_id,
        "background": "1" if record.background else "0",
        "status": record.status.value,
        "created_at": record.created_at.isoformat(),
    }
    for name in ("first_token_at", "finished_at"):
        moment: datetime | None = getattr(record, name)
        if moment is not None:
            fields[name] = moment.isoformat()
    if record.error_code is not None:
        fields["error_code"] = record.error_code
    if record.final_seq is not None:
        fields["final_seq"] = record.final_seq
    return fields


def run_record(run_id: uuid.UUID, fields: dict[str, str]) -> RunRecord:
    def moment(name: str) -> datetime | None:
        value = fields.get(name)
        return None if value is None else datetime.fromisoformat(value)

    created_at = moment("created_at")
    assert created_at is not None
    return RunRecord(
        run_id=run_id,
        session_id=uuid.UUID(fields["session_id"]),
        message_id=uuid.UUID(fields["message_id"]),
        owner=fields["owner"],
        background=fields.get("background") == "1",
        status=RunStatus(fields["status"]),
        created_at=created_at,
        first_token_at=moment("first_token_at"),
        finished_at=moment("finished_at"),
        error_code=fields.get("error_code"),
        final_seq=int(fields["final_seq"]) if "final_seq" in fields else None,
        # Records written before runs had principals belonged to the local user.
        principal_id=fields.get("principal", "local"),
    )
