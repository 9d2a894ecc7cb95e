"""Settings of the HTTP API (`GOVRAG_API__...`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rag.api.audit import AuditSettings
from rag.api.deps import ApiLimits
from rag.api.oidc import OidcSettings
from rag.api.security import SecuritySettings
from rag.api.shared_limits import RateLimitSettings


class ApiSettings(BaseModel):
    """Where `govrag serve` listens, who may call it and how much."""

    host: str = Field(default="127.0.0.1", description="Bind address of `govrag serve`.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port of `govrag serve`.")
    rate_burst: int = Field(default=10, ge=1, description="Requests a key may send at once before limiting.")
    model_threads: int | None = Field(
        default=1,
        ge=1,
        description="torch threads per forward pass in `govrag serve` (unless embedder.threads is set). A "
        "request embeds one question or a few sentences, which run faster on one core (14.6 vs 24.7 ms for "
        "a question on a 2-core Xeon); question and sentence batches then use a core each. None = torch's "
        "default (all cores).",
    )
    embed_batch: int = Field(
        default=64, ge=1, description="Texts of concurrent requests embedded in one forward pass, at most."
    )
    public_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Source prefix -> public URL prefix shown to non-admin callers instead of the ingest "
        'machine\'s paths, e.g. {"file:///srv/shared/moh/": "https://intranet.moh.example/docs/"}; '
        "unmapped local files show their path relative to the ingest root.",
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    limits: ApiLimits = Field(default_factory=ApiLimits)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
