"""Settings of the ingestion section (`GOVRAG_INGEST__...`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ingest.chunker import ChunkerSettings
from ingest.crawl_settings import CrawlSettings
from ingest.fetch import FetchSettings
from ingest.parser_settings import ParserSettings
from ingest.ray_settings import RaySettings
from ingest.series import SeriesSettings


class IngestSettings(BaseModel):
    """How `govrag ingest` reads, cuts and writes documents."""

    workers: int = Field(default=0, ge=0, description="Parser processes; 0 = one per core, minus one.")
    embed_batch: int = Field(default=256, ge=1, description="Chunks embedded per batch (sorted by length).")
    upsert_batch: int = Field(default=256, ge=1, description="Points written per index call.")
    max_in_flight: int = Field(default=64, ge=1, description="Documents parsed ahead of the embedder.")
    include: list[str] = Field(default_factory=list, description="Only files matching these globs.")
    exclude: list[str] = Field(default_factory=list, description="Skip files/folders matching these globs.")
    default_groups: list[str] = Field(default_factory=lambda: ["public"], description="Access groups.")
    title_in_embedding: bool = Field(default=True, description="Embed chunks with their document title.")
    parser: ParserSettings = Field(default_factory=ParserSettings)
    chunker: ChunkerSettings = Field(default_factory=ChunkerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    series: SeriesSettings = Field(default_factory=SeriesSettings)
    executor: Literal["local", "ray"] = Field(
        default="local",
        description="Where parsing and embedding run: 'local' = a process pool here, 'ray' = a Ray cluster "
        "(`--executor`; see docs/ingestion.md).",
    )
    ray: RaySettings = Field(default_factory=RaySettings)
