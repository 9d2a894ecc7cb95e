"""The HTTP API: FastAPI app and its supporting pieces (keys, rate limits, audit log, metrics, redaction)."""
