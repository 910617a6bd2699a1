"""Signed stream tokens and session cookies: bound, expiring, not interchangeable."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from app.core.clock import ManualClock
from app.services.signing import SECRET_FILE, Signer, StreamGrant, load_or_create_secret


def test_a_stream_token_carries_its_grant_until_it_expires() -> None:
    clock = ManualClock()
    signer = Signer("secret", clock)
    grant = StreamGrant("alice", run_id=uuid.uuid4())
    token = signer.stream_token(grant)
    assert signer.check_stream_token(token, max_age_s=300) == grant
    clock.advance(299)
    assert signer.check_stream_token(token, max_age_s=300) == grant
    clock.advance(2)
    assert signer.check_stream_token(token, max_age_s=300) is None


def test_tokens_and_cookies_cannot_stand_in_for_each_other_or_be_forged() -> None:
    signer = Signer("secret", ManualClock())
    token = signer.stream_token(StreamGrant("alice", session_id=uuid.uuid4()))
    cookie = signer.session_cookie("alice")
    assert signer.check_session_cookie(cookie, 60) == "alice"
    assert signer.check_session_cookie(token, 60) is None
    assert signer.check_stream_token(cookie, 60) is None
    assert Signer("another secret", ManualClock()).check_stream_token(token, 60) is None
    assert signer.check_stream_token("garbage", 60) is None


def test_the_generated_secret_is_shared_by_every_worker_of_a_machine(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    second = load_or_create_secret(tmp_path)  # another worker starting later
    assert first == second
    assert len(first) >= 64
    mode = stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode)
    assert mode == 0o600
