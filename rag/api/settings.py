"""Settings of the HTTP API (`GOVRAG_API__...`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rag.api.audit import AuditSettings
from rag.api.deps import ApiLimits
from rag.api.security import SecuritySettings


class ApiSettings(BaseModel):
    """Where `govrag serve` listens, who may call it and how much."""

    host: str = Field(default="127.0.0.1", description="Bind address of `govrag serve`.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port of `govrag serve`.")
    rate_burst: int = Field(default=10, ge=1, description="Requests a key may send at once before limiting.")
    embed_batch: int = Field(
        default=64, ge=1, description="Texts of concurrent requests embedded in one forward pass, at most."
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    limits: ApiLimits = Field(default_factory=ApiLimits)
    audit: AuditSettings = Field(default_factory=AuditSettings)
