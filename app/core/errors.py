"""Domain errors. They carry a stable code and a human sentence; the API renders them once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CitestreamError(Exception):
    """Base of every error a user may see. `code` is stable; `message` is for people."""

    message: str
    code: str = "internal_error"
    status: int = 500
    title: str = "Internal error"
    errors: list[dict[str, Any]] = field(default_factory=list)
    # When trying again may succeed, in seconds (sent as Retry-After).
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return self.message


class InvalidInput(CitestreamError):
    """The request is well-formed but a value is not acceptable."""

    def __init__(self, message: str, *, field_name: str | None = None) -> None:
        errors = [{"field": field_name, "message": message}] if field_name else []
        super().__init__(message, "invalid_input", 422, "Invalid input", errors)


class NotFound(CitestreamError):
    """The named resource does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found", 404, "Not found")


class UnknownCollection(NotFound):
    """A question names a collection the principal has none of (or may not see). The same 404
    as any other; the OpenAI-compatible API answers it as `model_not_found`."""


class Unauthenticated(CitestreamError):
    """No credentials, or credentials that are unknown, revoked or expired (sent with
    `WWW-Authenticate: Bearer`)."""

    def __init__(self, message: str = "Send an API key: Authorization: Bearer <key>.") -> None:
        super().__init__(message, "unauthenticated", 401, "Unauthenticated")


class CrossSiteRequest(CitestreamError):
    """A cookie-authenticated request that changes something did not come from our own page."""

    def __init__(self) -> None:
        super().__init__(
            "A request authenticated by the session cookie must come from this site's own "
            "page (same-origin Origin or Sec-Fetch-Site); send an API key instead.",
            "cross_site_request",
            403,
            "Cross-site request refused",
        )


class Conflict(CitestreamError):
    """The request clashes with the resource's current state."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "conflict", 409, "Conflict")


class LLMFailure(CitestreamError):
    """The language model failed or could not be reached."""

    def __init__(self, message: str = "The language model failed while answering.") -> None:
        super().__init__(message, "llm_error", 502, "Language model failure")


class LLMTimeout(CitestreamError):
    """The language model did not start, or stopped, writing within its limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "llm_timeout", 504, "Language model timed out")


class AnswerTimeout(CitestreamError):
    """The answer took longer than the configured limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The answer took longer than {seconds:g} seconds and was stopped.",
            "timeout",
            504,
            "Answer timed out",
        )


class RetrievalFailure(CitestreamError):
    """The knowledge base could not be searched."""

    def __init__(self, message: str = "The knowledge base could not be searched.") -> None:
        super().__init__(message, "retrieval_error", 503, "Retrieval failure")


class StorageFailure(CitestreamError):
    """The conversation store could not be reached."""

    def __init__(self, message: str = "The conversation could not be saved.") -> None:
        super().__init__(message, "storage_error", 503, "Storage failure")


class StorageBusy(CitestreamError):
    """The database had no connection (or lock) free in time: nothing was done, try again."""

    def __init__(
        self,
        message: str = "The database is busy; nothing was stored. Try again in a moment.",
        *,
        retry_after_s: float = 2,
    ) -> None:
        super().__init__(message, "storage_busy", 503, "Storage busy", retry_after_s=retry_after_s)


class UnsupportedMediaType(CitestreamError):
    """The file's type cannot be ingested."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "unsupported_media_type", 415, "Unsupported media type")


class PayloadTooLarge(CitestreamError):
    """The upload is over a configured limit; it was not read in full."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "payload_too_large", 413, "Payload too large")


class ServiceUnavailable(CitestreamError):
    """The server cannot take this request now (starting up, draining, overloaded)."""

    def __init__(
        self, message: str, *, code: str = "unavailable", retry_after_s: float = 1
    ) -> None:
        super().__init__(message, code, 503, "Service unavailable", retry_after_s=retry_after_s)


class TooManyRequests(CitestreamError):
    """One key asked for more than its share: requests per minute (`rate_limited`) or runs at
    once (`too_many_runs`)."""

    def __init__(self, message: str, *, code: str, retry_after_s: float) -> None:
        super().__init__(message, code, 429, "Too many requests", retry_after_s=retry_after_s)


class RunCancelled(CitestreamError):
    """The run was stopped before it ended: by a cancel request, its client leaving, nobody
    listening, or the server shutting down."""

    def __init__(self, *, shutting_down: bool = False) -> None:
        if shutting_down:
            super().__init__(
                "The server is shutting down; the answer was stopped and saved as interrupted.",
                "shutting_down",
                503,
                "Shutting down",
                retry_after_s=2,
            )
        else:
            super().__init__(
                "The answer was cancelled; what was written so far is saved as interrupted.",
                "cancelled",
                409,
                "Cancelled",
            )


class WorkerLost(CitestreamError):
    """The worker process that executed the run went away mid-answer."""

    def __init__(self) -> None:
        super().__init__(
            "The server process writing this answer stopped; ask again.",
            "worker_lost",
            503,
            "Worker lost",
        )


class DocumentTooLarge(CitestreamError):
    """A file's text, or its chunks, is over a configured limit (413): nothing of it is stored.
    `limit` names the setting."""

    def __init__(self, name: str, what: str, limit: str) -> None:
        message = f"{name}: {what}, over the limit ({limit}); it was not stored."
        errors = [{"field": "files", "message": message, "limit": limit}]
        super().__init__(message, "document_too_large", 413, "Document too large", errors)
        self.reason = f"{what} ({limit})"


class ParseLimitExceeded(CitestreamError):
    """Reading a file took more CPU time, wall time or memory than its parse process may use
    (422): the process was stopped and nothing of the file is stored."""

    def __init__(self, name: str, what: str, limit: str) -> None:
        message = f"{name}: {what}, the limit ({limit}); it was not stored."
        errors = [{"field": "files", "message": message, "limit": limit}]
        super().__init__(
            message, "parse_limit_exceeded", 422, "Document too costly to read", errors
        )
        self.reason = f"{what} ({limit})"
