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
    """How much one key, and the whole server, may ask for at once."""


class LimitsSettings(BaseModel):
    """Bounds on the work one request may cause: body sizes, parsing time and memory."""
