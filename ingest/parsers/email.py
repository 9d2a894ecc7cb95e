"""E-mail: EML (stdlib `email`) and Outlook MSG (`extract-msg`).

The subject is the title (and a level-1 heading), the plain-text body is preferred over the HTML
one, sender/recipients/date go to metadata, and attachments are returned as
`ParsedDocument.attachments` for the pipeline to parse as documents of their own. Inline images
(signatures, logos) are not attachments.
"""

from __future__ import annotations

import logging
import mimetypes
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from ingest.parsed import Attachment, ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.html import html_document
from ingest.parsers.limits import human_size, require
from ingest.parsers.outline import Outline
from ingest.parsers.text import decode_text, text_elements

logger = logging.getLogger(__name__)


def parse_eml(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse an RFC 822 message (.eml)."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
    except Exception as exc:  # the parser is lenient; this is for truly broken input
        raise ParseError(f"corrupt e-mail: {exc}") from exc
    if not isinstance(msg, EmailMessage) or not (msg["subject"] or msg["from"] or msg["date"]):
        raise ParseError("not an e-mail: no Subject/From/Date headers")
    subject = _header(msg, "subject")
    outline = Outline()
    if subject:
        outline.heading(subject, 1)
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        _add_body(outline, _part_text(body), body.get_content_subtype() == "html", settings)
    warnings: list[str] = []
    attachments = _eml_attachments(msg, body, settings, warnings)
    meta = {k: _header(msg, k) for k in ("from", "to", "cc", "date", "message-id") if msg[k]}
    return ParsedDocument(
        elements=outline.elements, title=subject, metadata=meta, attachments=attachments, warnings=warnings
    )


def _header(msg: Any, name: str) -> str:
    """A decoded header (RFC 2047 words resolved), whitespace collapsed."""
    try:
        return " ".join(str(msg[name] or "").split())
    except Exception:  # malformed encoded words
        return " ".join(str(msg.get(name, "")).split())


def _part_text(part: Any) -> str:
    """A text part's content in its declared charset, detected when the declaration is wrong."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeDecodeError, AssertionError, ValueError):
        pass
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    return decode_text(raw)[0] if raw else ""


def _add_body(outline: Outline, text: str, is_html: bool, settings: ParserSettings) -> None:
    """Body text (HTML bodies through the HTML parser), headings nested under the subject."""
    if is_html:
        try:
            doc = html_document(text, settings)
        except ParseError:
            return
        for el in doc.elements:
            if el.kind is ElementKind.TITLE:
                outline.heading(el.text, el.level + 1)
            else:
                outline.add(el.text, el.kind)
        return
    for el in text_elements(text):
        outline.add(el.text)


def _eml_attachments(msg: Any, body: Any, settings: ParserSettings, warnings: list[str]) -> list[Attachment]:
    """Attached files and forwarded messages; inline parts without a file name are skipped."""
    out: list[Attachment] = []
    _collect(msg, body, settings, warnings, out)
    return out


def _collect(
    container: Any, body: Any, settings: ParserSettings, warnings: list[str], out: list[Attachment]
) -> None:
    """Walk the MIME tree; a forwarded message (message/rfc822) is one attachment, not descended into."""
    for part in container.iter_parts():
        if part is body:
            continue
        ctype = part.get_content_type()
        name = part.get_filename()
        disposition = part.get_content_disposition()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if inner_msg is None:
                continue
            payload = inner_msg.as_bytes()
            name = name or f"{_header(inner_msg, 'subject') or 'message'}.eml"
        elif part.is_multipart():
            _collect(part, body, settings, warnings, out)
            continue
        elif disposition == "attachment" or (
            name and not (disposition == "inline" and ctype.startswith("image/"))
        ):
            raw = part.get_payload(decode=True)
            if not isinstance(raw, bytes):
                continue
            payload = raw
        else:
            continue
        name = name or f"attachment-{len(out) + 1}{mimetypes.guess_extension(ctype) or '.bin'}"
        _keep(out, Attachment(name, payload, ctype), settings, warnings)


def _keep(out: list[Attachment], att: Attachment, settings: ParserSettings, warnings: list[str]) -> None:
    """Append an attachment unless a count or size limit says otherwise (with a warning)."""
    if len(out) >= settings.max_attachments:
        warnings.append(
            f"attachment {att.filename!r} dropped: over max_attachments={settings.max_attachments}"
        )
    elif len(att.data) > settings.max_file_bytes:
        warnings.append(f"attachment {att.filename!r} dropped: {human_size(len(att.data))} > max_file_bytes")
    elif att.data:
        out.append(att)


def parse_msg(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse an Outlook .msg file with extract-msg (an OLE compound file)."""
    extract_msg = require("extract_msg", "extract-msg", "Outlook MSG parsing")
    try:
        msg = extract_msg.openMsg(data, delayAttachments=False)
    except Exception as exc:  # InvalidFileFormatError, olefile errors...
        raise ParseError(f"corrupt Outlook MSG: {type(exc).__name__}: {exc}") from exc
    try:
        return _msg_document(msg, settings)
    finally:
        try:
            msg.close()
        except Exception:  # closing a half-read file must not mask the result
            logger.debug("closing MSG failed", exc_info=True)


def _msg_document(msg: Any, settings: ParserSettings) -> ParsedDocument:
    """Build the document from an open extract-msg Message."""
    subject = " ".join(str(getattr(msg, "subject", "") or "").split())
    outline = Outline()
    if subject:
        outline.heading(subject, 1)
    body = getattr(msg, "body", None)
    if isinstance(body, str) and body.strip():
        _add_body(outline, body, False, settings)
    else:
        html = getattr(msg, "htmlBody", None)
        if isinstance(html, bytes) and html.strip():
            _add_body(outline, decode_text(html)[0], True, settings)
    warnings: list[str] = []
    attachments: list[Attachment] = []
    for n, att in enumerate(getattr(msg, "attachments", []) or []):
        data = getattr(att, "data", None)
        name = getattr(att, "longFilename", None) or getattr(att, "shortFilename", None) or f"attachment-{n}"
        if not isinstance(data, bytes):
            warnings.append(f"attachment {name!r} skipped: embedded Outlook item")
            continue
        _keep(
            attachments,
            Attachment(str(name), data, str(getattr(att, "mimetype", "") or "")),
            settings,
            warnings,
        )
    meta = {
        k: " ".join(str(v).split())
        for k, v in (
            ("from", getattr(msg, "sender", None)),
            ("to", getattr(msg, "to", None)),
            ("date", getattr(msg, "date", None)),
        )
        if v
    }
    return ParsedDocument(
        elements=outline.elements, title=subject, metadata=meta, attachments=attachments, warnings=warnings
    )
