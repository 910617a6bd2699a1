"""Settings of serving answers: the chat API, runs, and the server process."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ChatSettings(BaseModel):
    """Limits of the chat API."""

    max_query_chars: int = Field(default=4000, ge=1)
    # The condense step sees at most this many earlier messages...
    history_messages: int = Field(default=10, ge=0)
    # ...and of those, only the most recent that fit this many tokens (about 4 characters each).
    history_tokens: int = Field(default=1500, ge=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    # An SSE event or heartbeat that the client has not taken within this long means the client
    # is gone without closing its connection: the stream ends as if it had disconnected.
    send_timeout_s: float = Field(default=30.0, gt=0)
    # Upper bound on a whole answer, so a stuck model cannot hold a stream forever.
    answer_timeout_s: float = Field(default=600.0, gt=0)
    # At most this many answers of one process start at once (condensing the follow-up, finding
    # the passages, building the prompt); the rest wait their turn, in order, within their
    # time limit. Under a burst the first answers then write sooner, and the starts' memory is
    # held by a few at a time. Raise it for a remote model that condenses many follow-ups at
    # once; 0 starts every answer at once.
    max_starting_answers: int = Field(default=256, ge=0)


class RunsSettings(BaseModel):
    """Runs: answers that execute apart from the connection that asked for them."""

    # A finished run stays replayable this long, then it is forgotten (404).
    retention_s: float = Field(default=600.0, gt=0)
    # With Redis, an ended run that reached Redis whole is kept in this process only this long;
    # resumes and status come from Redis for the rest of the retention.
    local_keep_s: float = Field(default=5.0, ge=0)
    # A run nobody listens to for this long is cancelled, unless it was started as background.
    orphan_grace_s: float = Field(default=10.0, gt=0)
    # At most this many events of one run are kept in Redis for replay.
    max_events: int = Field(default=10_000, ge=100)
    # With Redis: a worker says it is alive this often (a third of it) and is taken for dead once
    # it has been silent this long; listeners elsewhere then end its runs with `worker_lost`.
    liveness_ttl_s: float = Field(default=3.0, gt=0)
    # How often runs are checked for listeners and expiry.
    supervise_every_s: float = Field(default=0.5, gt=0)


class ServerSettings(BaseModel):
    """Where `citestream serve` listens, and who may call it from a browser."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Processes answering on that port. More than one needs PostgreSQL and Redis, which carry
    # runs, cancellations and conversation windows between them.
    workers: int = Field(default=1, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # json: one object per line, with request_id, run_id, session_id and principal_id.
    log_format: Literal["text", "json"] = "text"
    # A request that needs the model while the server is still warming up waits this long for
    # it, then gets 503 with Retry-After.
    startup_wait_s: float = Field(default=60.0, ge=0)
    # On SIGTERM, runs in flight may finish for this long; then the rest are cancelled.
    drain_s: float = Field(default=20.0, ge=0)
    # Origins allowed to call the API from a browser (CORS), e.g. ["http://localhost:3000"].
    cors_origins: list[str] = []
    # The longest URL (path and query string) a request may have; longer ones get 414. Room for
    # a question of CITESTREAM_CHAT__MAX_QUERY_CHARS on `GET /api/chat/stream`, percent-encoded
    # (up to 12 characters each); uvicorn's parser refuses more than about 64 KB anyway.
    max_url_chars: int = Field(default=60_000, ge=1024, le=60_000)
    # glibc malloc arenas the process's threads share (see app/core/malloc_arenas.py); 0 leaves
    # glibc's default of up to eight per core.
    malloc_arenas: int = Field(default=2, ge=0)
