"""Logging for `citestream serve` and the other commands, configured in one place: Citestream's
records and uvicorn's (errors and access lines) go through the same handler, as text for people
or as one JSON object per line for a log pipeline, each with the ids of its request and run."""

from __future__ import annotations

import logging
import logging.config
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS

from app.core.log_context import LOG_IDS

LogFormat = Literal["text", "json"]

# uvicorn's own loggers: without this they keep the handlers of uvicorn's default config.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the whole process."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": " ".join(("%(levelname)s %(name)s %(message)s", *_fields())),
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
            # uvicorn's copy of its message with terminal colours: noise in a log pipeline.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        }
    else:
        formatter = {"format": _TEXT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "ids": {"()": "app.core.log_context.LogIdsFilter"},
            "abandoned": {"()": "app.core.log_context.AbandonedResponseFilter"},
        },
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["ids"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            name: {
                "handlers": [],
                "propagate": True,
                "level": level.upper(),
                **({"filters": ["abandoned"]} if name == "uvicorn.error" else {}),
            }
            for name in _UVICORN_LOGGERS
        },
    }


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Send every record of the process to stderr in `log_format`."""
    logging.config.dictConfig(logging_config(level, log_format))


def _fields() -> tuple[str, ...]:
    return tuple(f"%({name})s" for name in LOG_IDS)
