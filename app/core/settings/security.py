"""Settings of running safely on a network: who may call, how much, and how much work one
request may cause."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class AuthSettings(BaseModel):
    """Identity: API keys, stream tokens and the browser session."""

    # Require a key even on loopback with no keys created (beyond loopback, or once any key
    # exists, it is always required).
    required: bool = False
    # Signs stream tokens and session cookies. Unset: one is generated and kept in
    # `<data_dir>/auth-secret`, shared by the workers of one machine; deployments on several
    # machines must set the same value on each.
    secret: SecretStr | None = None
    # How long a stream token (`?access_token=`, for EventSource) stays valid.
    stream_token_ttl_s: float = Field(default=300.0, gt=0)
    # How long the browser session cookie stays valid.
    session_ttl_s: float = Field(default=12 * 3600.0, gt=0)
    session_cookie: str = "citestream_session"
    # Key lookups are cached in each process this long: a revoked key stops working within it.
    key_cache_ttl_s: float = Field(default=10.0, ge=0)
    # Put /metrics, and /docs with /openapi.json, behind a key too.
    protect_metrics: bool = False
    protect_docs: bool = False


class AdmissionSettings(BaseModel):
    """How much one key, and the whole server, may ask for at once. 0 means no limit.

    Enforced through Redis across workers when `redis.url` is set, in the process otherwise.
    """

    # Per key: runs executing at once (streams, chats and background runs alike).
    concurrent_runs: int = Field(default=4, ge=0)
    # Per key: requests that start work (chat, POST /api/runs, uploads), a budget that refills
    # continuously at this rate (so up to this many at once, then one every 60/N seconds).
    work_per_minute: int = Field(default=120, ge=0)
    # Per key: every API request, polls and reads included: a looser net for scripts gone wrong.
    requests_per_minute: int = Field(default=1200, ge=0)
    # Deployment-wide: runs executing at once on every worker. Unset: sized for the provider
    # (8 for llamacpp, which answers one at a time per worker; 64 for a remote OpenAI-compatible
    # server; no limit for fake).
    generations: int | None = Field(default=None, ge=0)
    # A run's slot lasts this long unless its worker renews it (every third of it): a worker that
    # dies gives its slots back after at most this long.
    lease_s: float = Field(default=15.0, gt=0)
    # The local user (loopback, no keys) owns the machine: only the deployment-wide cap applies
    # to it unless this is set.
    limit_local: bool = False
    # Redis keys start with this (tests and deployments sharing a Redis database use their own).
    key_prefix: str = "citestream:admission"


class LimitsSettings(BaseModel):
    """Bounds on the work one request may cause: body sizes, parsing time and memory."""

    # Every request body except an upload's (which has the ingestion limits): a larger one is
    # refused with 413 before it is read, or as soon as a chunked body passes the limit.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Each file is read in a process of its own, stopped when it passes any of these: a small
    # file can still hold hours of work (a PDF whose pages all share one huge content stream).
    parse_cpu_s: float = Field(default=30.0, gt=0)
    parse_wall_s: float = Field(default=50.0, gt=0)
    # Address space of the parse process (RLIMIT_AS, Linux); it starts at about 280 MB.
    parse_memory_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=256 * 1024 * 1024)
    # Files read at once by this process, whatever keys send them; more wait their turn (their
    # time limits start when they do). Each limit above bounds one file; this bounds them all,
    # so uploads can never take every core from the answers being written.
    parse_concurrency: int = Field(default=2, ge=1)
