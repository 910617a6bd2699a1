"""The ids every log record carries: the request, the run, its conversation and the principal.

Context variables, so that they follow the work: the request middleware and the identity
dependency set them for a request, the run executor for a run (whose task starts with a copy of
the context of the request that started it).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

LOG_IDS = ("request_id", "run_id", "session_id", "principal_id")

_ids: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"citestream_{name}", default=None) for name in LOG_IDS
}


def bind_log_ids(
    *,
    request_id: object | None = None,
    run_id: object | None = None,
    session_id: object | None = None,
    principal_id: object | None = None,
) -> None:
    """Set the given ids for the rest of the current context (a request, a run's task)."""
    given = {
        "request_id": request_id,
        "run_id": run_id,
        "session_id": session_id,
        "principal_id": principal_id,
    }
    for name, value in given.items():
        if value is not None:
            _ids[name].set(str(value))


def current_log_ids() -> dict[str, str | None]:
    """The ids in force here, None where unset."""
    return {name: var.get() for name, var in _ids.items()}


class LogIdsFilter(logging.Filter):
    """Puts the context's ids on every record (as attributes), for the formatters to show."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_log_ids().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


_abandoned: ContextVar[bool] = ContextVar("citestream_response_abandoned", default=False)
_INCOMPLETE = "ASGI callable returned without completing response"


def abandon_response() -> None:
    """This request's response is being left unfinished on purpose (its client stopped reading
    and cannot take the end of it); the server's complaint about that is expected."""
    _abandoned.set(True)


class AbandonedResponseFilter(logging.Filter):
    """For uvicorn's error logger: drops its "returned without completing response" line for a
    response ended on purpose, which would otherwise follow every send timeout as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_abandoned.get() and record.getMessage().startswith(_INCOMPLETE))
