"""Settings of running safely on a network: who may call, how much, and how much work one
request may cause."""

from __future__ import annotations

from pydantic import BaseModel


class AuthSettings(BaseModel):
    """Identity: API keys, stream tokens and the browser session."""

    # Require a key even on loopback with no keys created (beyond loopback it is always required).
    required: bool = False


class AdmissionSettings(BaseModel):
    """How much one key, and the whole server, may ask for at once."""


class LimitsSettings(BaseModel):
    """Bounds on the work one request may cause: body sizes, parsing time and memory."""
