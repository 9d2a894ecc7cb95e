"""The one settings tree: built once at the entry point (CLI or app factory) and passed down.

Sources, highest priority first: keyword arguments, environment (`GOVRAG_` prefix, `__` between nested
sections, e.g. `GOVRAG_INDEX__BACKEND=server`), a `.env` file, a YAML file (`GOVRAG_CONFIG` or
`--config`), then the defaults below. Each package owns the model of its own section.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from indices.embedder_settings import EmbedderSettings
from indices.language import LanguageSettings
from indices.registry import IndexSettings
from indices.sparse import SparseEncoderSettings
from ingest.settings import IngestSettings
from rag.answering import AnswerSettings
from rag.api.settings import ApiSettings
from rag.generators.settings import GeneratorSettings
from rag.rerank import RerankSettings
from rag.versions import VersionSettings


class Settings(BaseSettings):
    """Root of the govrag configuration."""

    model_config = SettingsConfigDict(
        env_prefix="GOVRAG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    home: Path = Field(
        default=Path("govrag-data"),
        description="Data directory: the embedded index, converted models, audit log.",
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses insecure defaults (anonymous access, open CORS).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    malloc_mmap_threshold_kb: int | None = Field(
        default=128,
        ge=0,
        le=32768,
        description="glibc: heap blocks from this size (KB) are mmap'd and returned to the OS when freed "
        "(~12% lower peak RSS while embedding); 0 or null leaves the allocator alone.",
    )
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    sparse: SparseEncoderSettings = Field(default_factory=SparseEncoderSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    versions: VersionSettings = Field(default_factory=VersionSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add the optional YAML file below the environment."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        yaml_path = os.environ.get("GOVRAG_CONFIG")
        if yaml_path:
            if not Path(yaml_path).is_file():
                raise FileNotFoundError(f"GOVRAG_CONFIG points to {yaml_path!r}, which is not a file")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        sources.append(file_secret_settings)
        return tuple(sources)

    @property
    def models_dir(self) -> Path:
        """Where converted/cached models live."""
        return self.home / "models"


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings tree once; `config` is a YAML file that takes the place of `GOVRAG_CONFIG`."""
    if config is not None:
        os.environ["GOVRAG_CONFIG"] = str(config)
    return Settings(**overrides)


def describe(model: type[BaseModel], prefix: str = "GOVRAG_") -> list[tuple[str, str, str]]:
    """(environment variable, default, description) rows for the README's configuration table."""
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(describe(ann, prefix=f"{env}__"))
            continue
        default = to_jsonable_python(info.get_default(call_default_factory=True))
        rows.append((env, json.dumps(default, ensure_ascii=False), info.description or ""))
    return rows
