"""Signed, expiring values: stream tokens for EventSource and the browser's session cookie.

The secret is `auth.secret`; when unset, one is generated once and kept in
`<data_dir>/auth-secret` (mode 0600), so every worker on this machine signs and checks with the
same secret. Several machines must be given the same `CITESTREAM_AUTH__SECRET`.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from app.core.clock import Clock
from app.core.settings import Settings

SECRET_FILE = "auth-secret"


def load_or_create_secret(data_dir: Path) -> str:
    """The machine's signing secret, created on first use. Exclusive creation, so two workers
    starting together end up with the same one."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the other worker may still be writing it
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it, or set CITESTREAM_AUTH__SECRET") from None
    value = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as file:
        file.write(value)
    return value


@dataclass(frozen=True)
class StreamGrant:
    """What a stream token allows: its principal may read the events of one run, or stream
    answers in one session, and nothing else."""

    principal_id: str
    run_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None


class Signer:
    """Signs and checks stream tokens and session cookies, each with its own salt so that one
    can never be passed off as the other."""

    def __init__(self, secret: str, clock: Clock) -> None:
        signer = _signer_reading(clock)
        self._tokens = URLSafeTimedSerializer(secret, "citestream.stream-token", signer=signer)
        self._sessions = URLSafeTimedSerializer(secret, "citestream.session-cookie", signer=signer)

    def stream_token(self, grant: StreamGrant) -> str:
        payload: dict[str, Any] = {"p": grant.principal_id}
        if grant.run_id is not None:
            payload["r"] = str(grant.run_id)
        if grant.session_id is not None:
            payload["s"] = str(grant.session_id)
        return self._tokens.dumps(payload)

    def check_stream_token(self, token: str, max_age_s: float) -> StreamGrant | None:
        """The grant of a valid token; None when forged, malformed or expired."""
        payload = self._loads(self._tokens, token, max_age_s)
        if not isinstance(payload, dict) or not isinstance(payload.get("p"), str):
            return None
        try:
            run = uuid.UUID(payload["r"]) if "r" in payload else None
            session = uuid.UUID(payload["s"]) if "s" in payload else None
        except (TypeError, ValueError):
            return None
        return StreamGrant(payload["p"], run, session)

    def session_cookie(self, principal_id: str) -> str:
        return self._sessions.dumps({"p": principal_id})

    def check_session_cookie(self, value: str, max_age_s: float) -> str | None:
        """The principal id a valid cookie names; None otherwise."""
        payload = self._loads(self._sessions, value, max_age_s)
        if isinstance(payload, dict) and isinstance(payload.get("p"), str):
            return str(payload["p"])
        return None

    def _loads(self, serializer: URLSafeTimedSerializer, value: str, max_age_s: float) -> Any:
        try:
            return serializer.loads(value, max_age=max(1, round(max_age_s)))
        except (BadSignature, ValueError):  # SignatureExpired is a BadSignature
            return None


def _signer_reading(clock: Clock) -> type[TimestampSigner]:
    # itsdangerous stamps and checks ages with the system clock; ours is a dependency.
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return ClockSigner


def build_signer(settings: Settings, clock: Clock) -> Signer:
    """Signs stream tokens and cookies with the configured secret, else this machine's own."""
    secret = settings.auth.secret
    value = secret.get_secret_value() if secret else load_or_create_secret(settings.data_dir)
    return Signer(value, clock)
