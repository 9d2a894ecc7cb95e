"""Process-wide logging: one root handler, JSON lines (or plain text), personal data redacted.

`configure_logging` is called once by the entry point (`govrag serve`, the CLI). Every line passes the
`RedactingFilter`, so an NRIC or e-mail in a question, an exception message or an `extra` field never
reaches the output. Uvicorn's loggers are routed through the same handler because its access log
carries request paths (which may hold query strings) and would otherwise bypass redaction.
"""

from __future__ import annotations

import json as _json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from rag.api.redaction import STANDARD_LOG_ATTRS, RedactingFilter

_CORE_KEYS = ("time", "level", "logger", "message")
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed with `extra=` (anything that is not a standard LogRecord attribute)."""
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD_LOG_ATTRS and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO-8601), level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise `record`; values JSON cannot hold are written with `str()`."""
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            line[f"{key}_" if key in _CORE_KEYS else key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return _json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal: `time LEVEL logger: message key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        """Format `record` with its extras appended as key=value pairs."""
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        if extras:
            text = f"{text} {extras}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{record.stack_info}"
        return text


def configure_logging(
    level: str | int = "INFO",
    json: bool = True,
    stream: TextIO | None = None,
    capture_uvicorn: bool = True,
) -> logging.Handler:
    """Install the govrag handler on the root logger and return it.

    Calling it again replaces the handler it installed before (other handlers are kept, but each of them
    gets a `RedactingFilter` too). `stream` defaults to stderr. With `capture_uvicorn`, uvicorn's loggers
    lose their own handlers and levels and propagate to the root, so their lines are redacted, in the same
    format and at the same level.
    """
    if isinstance(level, str):
        numeric = logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        level = numeric
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_govrag", False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler._govrag = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
    root.setLevel(level)
    if capture_uvicorn:
        for name in _UVICORN_LOGGERS:
            uv = logging.getLogger(name)
            uv.handlers.clear()
            uv.propagate = True
            uv.setLevel(logging.NOTSET)  # the root's level decides (uvicorn.Config may have set its own)
    return handler
