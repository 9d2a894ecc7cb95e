"""Limits and OCR options for the document parsers (`ingest/parsers/`).

Every limit here protects a worker process from a hostile or broken file: a parser that hits one
raises `ParseError` naming the limit and the settings field to raise, instead of eating memory or
hanging the pool. The lead composes this section into the root settings (env prefix `GOVRAG_`,
e.g. `GOVRAG_INGEST__PARSER__OCR_LANGUAGES='["tha","eng"]'`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

MB = 1024 * 1024

#: Tesseract language packs the automatic OCR language choice picks from (Debian package names are
#: `tesseract-ocr-<code with - instead of _>`).
DEFAULT_OCR_CANDIDATES = ["eng", "vie", "ind", "msa", "tha", "chi_sim", "chi_tra", "tam", "mya", "khm", "lao"]


class ParserSettings(BaseModel):
    """How parsers guard against oversized input and when and how they run OCR."""

    # -- size guards -------------------------------------------------------------------------------
    max_file_bytes: int = Field(default=100 * MB, ge=1, description="Refuse files larger than this.")
    max_decompressed_bytes: int = Field(
        default=200 * MB,
        ge=1,
        description="Refuse a zip container (DOCX/PPTX/XLSX) whose members add up to more than this.",
    )
    max_compression_ratio: float = Field(
        default=100.0,
        gt=1,
        description="Refuse a zip member that expands more than this many times (zip bomb) ...",
    )
    ratio_min_bytes: int = Field(
        default=1 * MB,
        ge=0,
        description="... once it expands to at least this many bytes (small XML parts compress well).",
    )
    max_zip_members: int = Field(default=10_000, ge=1, description="Refuse zip containers with more entries.")
    max_pages: int = Field(default=2_000, ge=1, description="Parse at most this many PDF pages/slides.")
    max_rows: int = Field(default=100_000, ge=1, description="Rows read per spreadsheet sheet or CSV file.")
    table_rows_per_element: int = Field(
        default=40, ge=1, description="Rows per TABLE element (each row carries its headers)."
    )
    max_image_pixels: int = Field(
        default=80_000_000, ge=1, description="Refuse images (and TIFF frames) larger than this many pixels."
    )
    max_attachments: int = Field(default=50, ge=0, description="E-mail attachments kept per message.")
    parse_timeout_s: float = Field(
        default=600.0, gt=0, description="Wall-clock budget for one document, checked between pages."
    )
    convert_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Kill a LibreOffice conversion (DOC/XLS/PPT/ODT/ODS/ODP/RTF) after this long.",
    )
    text_encoding: str | None = Field(
        default=None, description="Force this codec for plain text/CSV/Markdown instead of detecting it."
    )

    # -- OCR ---------------------------------------------------------------------------------------
    ocr_enabled: bool = Field(default=True, description="OCR scanned pages and images (needs Tesseract).")
    ocr_languages: list[str] = Field(
        default_factory=list,
        description="Tesseract packs to use, e.g. ['tha', 'eng']; empty = detect the script per page.",
    )
    ocr_candidates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OCR_CANDIDATES),
        description="Packs the automatic choice may pick from (only installed ones are tried).",
    )
    ocr_dpi: int = Field(
        default=300, ge=72, le=600, description="Resolution scanned PDF pages are rendered at."
    )
    ocr_min_chars_per_page: int = Field(
        default=20,
        ge=0,
        description="A PDF page whose text layer has fewer visible characters than this is OCR'd.",
    )
    ocr_psm: int = Field(
        default=4,
        ge=0,
        le=13,
        description="Tesseract page segmentation mode; 4 (one column) reads Khmer/Burmese/Lao, 3 does not.",
    )
    ocr_psm_overrides: dict[str, int] = Field(
        default_factory=lambda: {"mya": 11},
        description="Per-pack page segmentation: Burmese lines split in two under psm 3/4, not 11.",
    )
    ocr_page_timeout_s: float = Field(
        default=120.0, gt=0, description="Kill Tesseract after this long per page."
    )
    ocr_max_pages: int = Field(default=500, ge=0, description="OCR at most this many pages per document.")
    tesseract_cmd: str = Field(default="tesseract", description="Tesseract executable (name or path).")
    pdftoppm_cmd: str = Field(default="pdftoppm", description="Poppler renderer used to rasterize PDF pages.")
    soffice_cmd: str = Field(
        default="soffice", description="LibreOffice executable that converts legacy and OpenDocument files."
    )
