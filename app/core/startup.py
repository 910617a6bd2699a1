"""Start-up failures as one clear sentence: what could not be used, and why.

A database that cannot be reached, a setting that does not parse or a port that is taken are
expected conditions for an operator, not bugs: the server and the commands print this sentence
on one line and exit non-zero, with no traceback.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.core.errors import CitestreamError


class StartupFailure(CitestreamError):
    """Something the server or a command needs at start-up cannot be used."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "start_failed", 503, "Start-up failed", retry_after_s=30)


def reason(error: BaseException) -> str:
    """The root cause of `error` in one line: drivers' errors wrapped by SQLAlchemy or Alembic
    are unwrapped, and multi-line messages keep their first line."""
    while True:
        inner = getattr(error, "orig", None) or error.__cause__
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    kind = type(error).__name__
    return f"{kind}: {text}" if text else kind


def safe_url(url: str) -> str:
    """A database URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparsable URL)"


def database_unusable(error: BaseException, url: str) -> StartupFailure:
    """The database at `url` could not be opened or brought to the current schema."""
    return StartupFailure(
        f"cannot use the database at {safe_url(url)} (CITESTREAM_DATABASE__URL): {reason(error)}"
    )


def invalid_settings(error: ValidationError) -> StartupFailure:
    """Settings that do not validate, each named by its environment variable."""
    problems = []
    for item in error.errors():
        name = "CITESTREAM_" + "__".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{name}: {item['msg']}")
    return StartupFailure("invalid setting " + "; ".join(problems))
