"""Settings of running safely on a network: who may call, how much, and how much work one
request may cause."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuthSettings(BaseModel):
    """Identity: API keys, stream tokens and the browser session."""

    # Require a key even on loopback with no keys created (beyond loopback it is always required).
    required: bool = False


class AdmissionSettings(BaseModel):
    """How much one key, and the whole server, may ask for at once."""


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
