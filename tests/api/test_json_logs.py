"""configure_logging: JSON/text lines with extras, and personal data never reaching the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from rag.api.logs import configure_logging
from rag.api.redaction import RedactingFilter


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root and uvicorn loggers back as they were (pytest's own handlers included)."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {h: list(h.filters) for h in handlers}
    level = root.level
    uvicorn = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate)
               for n in ("uvicorn", "uvicorn.error", "uvicorn.access")}  # fmt: skip
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for h, fs in filters.items():
        h.filters[:] = fs
    root.setLevel(level)
    for name, (hs, propagate) in uvicorn.items():
        logging.getLogger(name).handlers[:] = hs
        logging.getLogger(name).propagate = propagate


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_fields_and_extras() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("govrag.test.logs")
    log.debug("not shown at INFO")
    log.info(
        "request",
        extra={"request_id": "r-1", "path": "/v1/query", "status": 200, "duration_ms": 12.5, "level": "x"},
    )
    (line,) = _lines(stream)
    assert line["level"] == "INFO"
    assert line["logger"] == "govrag.test.logs"
    assert line["message"] == "request"
    assert line["request_id"] == "r-1"
    assert line["path"] == "/v1/query"
    assert line["status"] == 200
    assert line["duration_ms"] == 12.5
    assert line["level_"] == "x"  # an extra named like a core field does not overwrite it
    assert isinstance(line["time"], str)
    assert line["time"].endswith("Z")
    assert "T" in line["time"]


@pytest.mark.usefixtures("restore_logging")
def test_personal_data_never_reaches_the_output() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    log = logging.getLogger("govrag.test.logs")
    log.info("question from %s: %s", "ali@example.com", "my NRIC is S1234567D", extra={"caller": "S1234567D"})
    try:
        raise KeyError("no record for 900101-14-5678 / +65 9123 4567")
    except KeyError:
        log.exception("lookup failed")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/search?q=S1234567D", "1.1", 200
    )
    text = stream.getvalue()
    for secret in ("ali@example.com", "S1234567D", "900101-14-5678", "9123 4567"):
        assert secret not in text
    first, second, third = _lines(stream)
    assert first["message"] == "question from [EMAIL]: my NRIC is [NRIC]"
    assert first["caller"] == "[NRIC]"
    assert second["level"] == "ERROR"
    assert "KeyError" in str(second["exception"])
    assert "[MYKAD]" in str(second["exception"])
    assert "[PHONE]" in str(second["exception"])
    assert third["logger"] == "uvicorn.access"
    assert "/v1/search?q=[NRIC]" in str(third["message"])


@pytest.mark.usefixtures("restore_logging")
def test_text_mode_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", json=True, stream=first)
    handler = configure_logging("WARNING", json=False, stream=second)
    root = logging.getLogger()
    assert sum(1 for h in root.handlers if getattr(h, "_govrag", False)) == 1
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers)
    assert handler in root.handlers
    log = logging.getLogger("govrag.test.logs")
    log.info("dropped")
    log.warning("call %s", "0812-3456-7890", extra={"path": "/v1/query"})
    assert first.getvalue() == ""
    (line,) = second.getvalue().splitlines()
    assert line.endswith("WARNING govrag.test.logs: call [PHONE] path=/v1/query")


@pytest.mark.usefixtures("restore_logging")
def test_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD")
