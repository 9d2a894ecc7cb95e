"""The sources file of `govrag sync`: several folders, exports and websites, each with its agency,
access groups, options and (as metadata for cron, systemd timers and Kubernetes CronJobs) a schedule.

    sources:
      - name: moh-circulars              # unique; `govrag sync FILE --only moh-circulars`
        path: /srv/share/moh/circulars   # a folder, a file or a JSONL/CSV export
        agency: moh
        groups: [public]
        prune: true
        exclude: ["drafts/"]
        schedule: "30 1 * * *"
      - name: moh-site
        url: https://www.moh.example.gov/ # crawled (`crawl: false` fetches only this URL)
        agency: moh
        crawl: {max_depth: 3, include: ["/circulars/*"]}
        fetch: {min_interval_s: 2}

Loading validates everything before anything runs and names the source and field of each mistake.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.crawl_settings import CrawlSettings
from ingest.fetch import FetchSettings
from ingest.settings import IngestSettings

_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
_CRON_NICKNAMES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


class SourcesFileError(ValueError):
    """The sources file cannot be used; the message names the file, source and field."""


class SyncSource(BaseModel):
    """One source of `govrag sync`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    path: Path | None = None
    url: str | None = None
    agency: str = ""
    groups: list[str] | None = None
    lang: str = "auto"
    prune: bool = False
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    crawl: bool | dict[str, Any] = True
    fetch: dict[str, Any] = Field(default_factory=dict)
    schedule: str = ""

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not re.fullmatch(r"[\w.\-]+", v):
            raise ValueError("use letters, digits, '.', '-' and '_' only")
        return v

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or any(not g.strip() for g in v)):
            raise ValueError("give at least one non-empty group name (or leave groups out for the default)")
        return v

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v != "auto" and not v.isalpha():
            raise ValueError(f"must be 'auto' or a language code such as 'th', got {v!r}")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.split()
        if (
            v
            and v.strip() not in _CRON_NICKNAMES
            and (len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields))
        ):
            raise ValueError(f"not a 5-field cron expression such as '30 1 * * *': {v!r}")
        return v

    @model_validator(mode="after")
    def _one_location(self) -> SyncSource:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (folder, file or export) and 'url' (website)")
        if self.path is not None and (self.crawl is not True or self.fetch):
            raise ValueError("'crawl' and 'fetch' options apply to 'url' sources only")
        return self

    @property
    def crawls(self) -> bool:
        """Whether this source is a website to crawl (not a single URL)."""
        return self.url is not None and self.crawl is not False

    def ingest_settings(self, base: IngestSettings) -> IngestSettings:
        """The ingestion settings for this source: `base` with this source's options over it."""
        settings = base.model_copy(deep=True)
        if self.include:
            settings.include = list(self.include)
        if self.exclude:
            settings.exclude = list(self.exclude)
        if isinstance(self.crawl, dict):
            settings.crawl = CrawlSettings.model_validate({**base.crawl.model_dump(), **self.crawl})
        if self.fetch:
            settings.fetch = FetchSettings.model_validate({**base.fetch.model_dump(), **self.fetch})
        return settings


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _strict(model: type[BaseModel], data: dict[str, Any], prefix: str, source: str) -> None:
    """Validate option overrides against their settings model, unknown keys refused."""
    unknown = sorted(set(data) - set(model.model_fields))
    if unknown:
        raise SourcesFileError(f"{source}: {prefix}.{unknown[0]}: unknown option")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SourcesFileError(f"{source}: {prefix}.{_where(err['loc'])}: {err['msg']}") from exc


def load_sources(path: Path, base: IngestSettings) -> list[tuple[SyncSource, IngestSettings]]:
    """Read and validate a sources file; each source with its ingestion settings.

    Raises `SourcesFileError` naming the file, the source (number and name) and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourcesFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) - {"sources"}:
        raise SourcesFileError(f"{path}: expected a mapping with one key, 'sources' (a list of sources)")
    entries = raw.get("sources")
    if not isinstance(entries, list) or not entries:
        raise SourcesFileError(f"{path}: 'sources' must be a non-empty list")
    out: list[tuple[SyncSource, IngestSettings]] = []
    names: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        label = f"{path}: source {n}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            label += f" ({entry['name']!r})"
        if not isinstance(entry, dict):
            raise SourcesFileError(f"{label}: expected a mapping of options, got {type(entry).__name__}")
        try:
            source = SyncSource.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = f"{_where(err['loc'])}: " if err["loc"] else ""
            raise SourcesFileError(f"{label}: {field}{err['msg'].removeprefix('Value error, ')}") from exc
        if source.name in names:
            raise SourcesFileError(f"{label}: name: {source.name!r} is used by an earlier source")
        names.add(source.name)
        if isinstance(source.crawl, dict):
            _strict(CrawlSettings, source.crawl, "crawl", label)
        _strict(FetchSettings, source.fetch, "fetch", label)
        out.append((source, source.ingest_settings(base)))
    return out
