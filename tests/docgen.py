"""Generate real test documents (PDF, scanned pages, DOCX, PPTX, XLSX, HTML, EML, odd encodings, bad files).

Nothing is checked in: tests and benchmarks build what they need at run time with
tools (fpdf2, Pillow, python-docx, python-pptx, openpyxl, stdlib email/zipfile) and Debian fonts
(`fonts-noto-core` covers Thai, Lao, Khmer, Burmese, Tamil and Latin/Vietnamese;
`fonts-noto-cjk` covers Chinese). `font_path(script)` raises `FontMissing` so tests can skip.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

_NOTO = Path("/usr/share/fonts/truetype/noto")
_FONTS: dict[str, list[Path]] = {
    "latin": [_NOTO / "NotoSans-Regular.ttf", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")],
    "thai": [_NOTO / "NotoSansThai-Regular.ttf", Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf")],
    "lao": [_NOTO / "NotoSansLao-Regular.ttf", Path("/usr/share/fonts/truetype/lao/Phetsarath_OT.ttf")],
    "khmer": [_NOTO / "NotoSansKhmer-Regular.ttf", Path("/usr/share/fonts/truetype/khmeros/KhmerOS.ttf")],
    "myanmar": [
        _NOTO / "NotoSansMyanmar-Regular.ttf",
        Path("/usr/share/fonts/truetype/padauk/Padauk-Regular.ttf"),
    ],
    "tamil": [_NOTO / "NotoSansTamil-Regular.ttf"],
    "cjk": [Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")],
}
#: Index of the Simplified Chinese face inside NotoSansCJK-Regular.ttc.
_CJK_SC_INDEX = 2

#: Language code -> (script, sample lines). Short official-style sentences, used as OCR ground truth.
SAMPLES: dict[str, tuple[str, list[str]]] = {
    "th": (
        "thai",
        [
            "ประกาศสำนักงานเขต เรื่อง การยื่นคำขอมีบัตรประจำตัวประชาชน",
            "ผู้ยื่นคำขอต้องยื่นเอกสารภายในวันที่ห้า มกราคม",
            "กรุณานำสำเนาทะเบียนบ้านและรูปถ่ายมาด้วย",
            "สอบถามข้อมูลเพิ่มเติมได้ที่ศูนย์บริการประชาชน",
        ],
    ),
    "zh": (
        "cjk",
        [
            "关于办理居民身份证的通知",
            "申请人必须在一月五日前向区办事处提交文件。",
            "请携带户口簿复印件和近期照片。",
            "如需更多信息，请联系市民服务中心。",
        ],
    ),
    "vi": (
        "latin",
        [
            "Thông báo về việc cấp thẻ căn cước công dân",
            "Người nộp đơn phải nộp hồ sơ trước ngày mùng năm.",
            "Vui lòng mang theo bản sao sổ hộ khẩu và ảnh chân dung.",
            "Mọi thắc mắc xin liên hệ trung tâm phục vụ hành chính công.",
        ],
    ),
    "id": (
        "latin",
        [
            "Pengumuman tentang penerbitan kartu tanda penduduk",
            "Pemohon wajib menyerahkan dokumen sebelum tanggal lima Januari.",
            "Harap membawa salinan kartu keluarga dan pas foto terbaru.",
            "Informasi lebih lanjut dapat diperoleh di kantor kecamatan.",
        ],
    ),
    "ms": (
        "latin",
        [
            "Notis mengenai permohonan kad pengenalan",
            "Pemohon dikehendaki menghantar dokumen sebelum lima Januari.",
            "Sila bawa salinan sijil kelahiran dan gambar berukuran pasport.",
            "Maklumat lanjut boleh didapati di pejabat daerah.",
        ],
    ),
    "ta": (
        "tamil",
        [
            "அடையாள அட்டை விண்ணப்பம் பற்றிய அறிவிப்பு",
            "விண்ணப்பதாரர் ஆவணங்களை அலுவலகத்தில் சமர்ப்பிக்க வேண்டும்.",
            "குடும்ப அட்டையின் நகலையும் புகைப்படத்தையும் கொண்டு வரவும்.",
            "மேலும் தகவலுக்கு மக்கள் சேவை மையத்தை அணுகவும்.",
        ],
    ),
    "my": (
        "myanmar",
        [
            "နိုင်ငံသားစိစစ်ရေးကတ်ပြား လျှောက်ထားခြင်းဆိုင်ရာ အသိပေးချက်",
            "လျှောက်ထားသူသည် စာရွက်စာတမ်းများကို ရုံးသို့ တင်သွင်းရမည်။",
            "အိမ်ထောင်စုစာရင်း မိတ္တူနှင့် ဓာတ်ပုံ ယူဆောင်လာပါ။",
            "အသေးစိတ်သိရှိလိုပါက ပြည်သူ့ဝန်ဆောင်မှုဌာနသို့ ဆက်သွယ်ပါ။",
        ],
    ),
    "km": (
        "khmer",
        [
            "សេចក្តីជូនដំណឹងស្តីពីការស្នើសុំអត្តសញ្ញាណប័ណ្ណ",
            "អ្នកដាក់ពាក្យត្រូវដាក់ឯកសារនៅការិយាល័យខណ្ឌ។",
            "សូមយកច្បាប់ចម្លងសៀវភៅគ្រួសារ និងរូបថតមកជាមួយ។",
            "សម្រាប់ព័ត៌មានបន្ថែម សូមទាក់ទងមជ្ឈមណ្ឌលសេវាសាធារណៈ។",
        ],
    ),
    "lo": (
        "lao",
        [
            "ແຈ້ງການກ່ຽວກັບການຂໍບັດປະຈຳຕົວ",
            "ຜູ້ຍື່ນຄຳຮ້ອງຕ້ອງຍື່ນເອກະສານຢູ່ຫ້ອງການເມືອງ.",
            "ກະລຸນານຳສຳເນົາປຶ້ມສຳມະໂນຄົວ ແລະ ຮູບຖ່າຍມານຳ.",
            "ສອບຖາມຂໍ້ມູນເພີ່ມເຕີມໄດ້ທີ່ສູນບໍລິການປະຊາຊົນ.",
        ],
    ),
    "en": (
        "latin",
        [
            "Notice on applications for national identity cards",
            "Applicants must submit their documents before the fifth of January.",
            "Please bring a copy of your household register and a recent photograph.",
            "For more information contact the public service centre.",
        ],
    ),
}


class FontMissing(RuntimeError):
    """No installed font covers the script (install fonts-noto-core / fonts-noto-cjk)."""


def font_path(script: str) -> Path:
    """An installed font file for `script` (keys of _FONTS), or raise `FontMissing`."""
    for path in _FONTS[script]:
        if path.exists():
            return path
    raise FontMissing(f"no font for {script}: apt-get install fonts-noto-core fonts-noto-cjk")


# -- PDF with a text layer --------------------------------------------------------------------------


def text_pdf(pages: Sequence[Sequence[tuple[str, str]]], script: str, title: str = "") -> bytes:
    """A PDF whose pages hold (kind, text) lines: kind "h1"/"h2" = bigger headings, "p" = body text.

    Text shaping is off so the text layer maps glyph to character 1:1 (what pypdf must read back
    exactly); the Latin font is the fallback for digits/punctuation the script font lacks.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    if title:
        pdf.set_title(title)
    kw = {"collection_font_number": _CJK_SC_INDEX} if script == "cjk" else {}
    pdf.add_font("body", fname=str(font_path(script)), **kw)
    pdf.add_font("fallback", fname=str(font_path("latin")))
    pdf.set_fallback_fonts(["fallback"])
    sizes = {"h1": 20, "h2": 16, "p": 12}
    for lines in pages:
        pdf.add_page()
        for kind, text in lines:
            pdf.set_font("body", size=sizes[kind])
            pdf.multi_cell(0, sizes[kind] * 0.6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


# -- scanned pages (images without a text layer) ----------------------------------------------------


def render_lines(lines: Sequence[str], script: str, px: int = 44, width: int = 2200, noise: bool = True):  # type: ignore[no-untyped-def]
    """A grayscale page image of `lines` (Pillow + raqm shaping), like a 300 dpi scan; returns PIL Image."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    kw = {"index": _CJK_SC_INDEX} if script == "cjk" else {}
    font = ImageFont.truetype(str(font_path(script)), px, layout_engine=ImageFont.Layout.RAQM, **kw)
    line_h = int(px * 2.0)
    image = Image.new("L", (width, 200 + line_h * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((120, 100 + i * line_h), line, font=font, fill=20)
    if noise:
        image = image.filter(ImageFilter.GaussianBlur(0.8))
        import random

        rng = random.Random(7)
        px_access = image.load()
        for _ in range(image.width * image.height // 400):  # scanner speckle
            x, y = rng.randrange(image.width), rng.randrange(image.height)
            px_access[x, y] = rng.choice((0, 90, 180))
    return image


def scanned_image(lines: Sequence[str], script: str, fmt: str = "PNG") -> bytes:
    """`lines` rendered as an image file (PNG, JPEG or TIFF) at 300 dpi, no text anywhere in it."""
    buf = io.BytesIO()
    render_lines(lines, script).save(buf, fmt, dpi=(300, 300))
    return buf.getvalue()


def scanned_pdf(pages: Sequence[Sequence[str]], script: str) -> bytes:
    """A PDF of page images only (what a scanner produces): no text layer."""
    images = [render_lines(lines, script) for lines in pages]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", resolution=300.0, save_all=True, append_images=images[1:])
    return buf.getvalue()


def merge_pdfs(*docs: bytes) -> bytes:
    """Concatenate PDFs (e.g. a text page then a scanned page)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for doc in docs:
        writer.append(io.BytesIO(doc))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# -- Office ------------------------------------------------------------------------------------------


def docx_bytes(blocks: Sequence[tuple[str, object]], title: str = "") -> bytes:
    """A DOCX from (kind, content): "h1".."h3" heading, "p" paragraph, "li" bullet, "table" rows."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, content in blocks:
        if kind.startswith("h"):
            document.add_heading(str(content), level=int(kind[1]))
        elif kind == "p":
            document.add_paragraph(str(content))
        elif kind == "li":
            document.add_paragraph(str(content), style="List Bullet")
        elif kind == "table":
            rows = list(content)  # type: ignore[call-overload]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = str(value)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def pptx_bytes(
    slides: Sequence[tuple[str, Sequence[str]]], table: Sequence[Sequence[str]] | None = None
) -> bytes:
    """A PPTX: each slide (title, bullet lines); `table` is added to the last slide."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, bullets in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        frame.text = bullets[0] if bullets else ""
        for line in bullets[1:]:
            frame.add_paragraph().text = line
    if table:
        shape = deck.slides[-1].shapes.add_table(
            len(table), len(table[0]), Inches(1), Inches(4.5), Inches(8), Inches(2)
        )
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                shape.table.cell(r, c).text = value
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def xlsx_bytes(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    """An XLSX with one sheet per entry (rows of values; the first row is the header)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- text formats ------------------------------------------------------------------------------------

_VI_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def encode_text(text: str, encoding: str) -> bytes:
    """Encode like a legacy editor would: Windows-1258 writes Vietnamese tones as combining marks."""
    if encoding.replace("-", "").lower() not in ("cp1258", "windows1258"):
        return text.encode(encoding)
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _VI_TONES))
            out += (base + "".join(c for c in decomposed if c in _VI_TONES)).encode("cp1258")
    return bytes(out)


def eml_bytes(
    subject: str, body: str, attachments: Sequence[tuple[str, bytes, str]] = (), html: str | None = None
) -> bytes:
    """An RFC 822 message with a text (and optional HTML) body and file attachments."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "Office <office@example.gov>"
    msg["To"] = "citizen@example.org"
    msg["Date"] = "Mon, 06 Jan 2025 09:00:00 +0700"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data, ctype in attachments:
        main, sub = ctype.split("/", 1)
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


# -- bad files ---------------------------------------------------------------------------------------


def encrypted_pdf(password: str = "secret") -> bytes:
    """A PDF that needs a user password to open."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([[("p", "Confidential")]], "latin"))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def truncated_pdf() -> bytes:
    """The first half of a valid PDF (a cut-off download)."""
    data = text_pdf([[("p", "This download was cut off halfway.")]] * 3, "latin")
    return data[: len(data) // 2]


def corrupt_pdf() -> bytes:
    """A PDF header and trailer around garbage: no objects, no page tree."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\nstartxref\n999999\n%%EOF\n"


def zip_bomb(kind: str = "docx", declared: int = int(1.2 * 1024**3)) -> bytes:
    """A valid DOCX/XLSX whose extra member claims to expand to `declared` bytes (headers patched:
    the guard must refuse from the central directory, without inflating anything)."""
    base = docx_bytes([("p", "hello")]) if kind == "docx" else xlsx_bytes({"S": [["a"], [1]]})
    src = zipfile.ZipFile(io.BytesIO(base))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("word/media/bomb.bin" if kind == "docx" else "xl/media/bomb.bin", b"\0" * 1_000_000)
    data = bytearray(buf.getvalue())
    # patch the uncompressed size of the last member in its local header and the central directory
    name = b"word/media/bomb.bin" if kind == "docx" else b"xl/media/bomb.bin"
    # (signature, offset of the uncompressed size, offset of the name length, header length)
    for sig, size_at, name_len_at, header in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = 0
        while (pos := data.find(sig, pos)) != -1:
            name_len = struct.unpack_from("<H", data, pos + name_len_at)[0]
            if bytes(data[pos + header : pos + header + name_len]) == name:
                struct.pack_into("<I", data, pos + size_at, declared)
            pos += 4
    return bytes(data)


def real_zip_bomb_xlsx(megabytes: int = 60) -> bytes:
    """An XLSX with a member that truly inflates to `megabytes` of zeros (ratio ~1000:1)."""
    base = xlsx_bytes({"S": [["a"], [1]]})
    src = zipfile.ZipFile(io.BytesIO(base))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("xl/media/padding.bin", b"\0" * (megabytes * 1024 * 1024))
    return buf.getvalue()


def binary_with_text_extension() -> bytes:
    """Random-looking binary bytes (to be saved as .txt)."""
    import random

    rng = random.Random(3)
    return bytes(rng.randrange(256) for _ in range(4096))


# -- legacy, OpenDocument, RTF and EPUB --------------------------------------------------------------


def soffice_convert(files: dict[str, bytes], target: str, timeout: float = 300) -> dict[str, bytes]:
    """Convert files (name -> bytes) to `target` ("doc", "odt", "xls"...) in one LibreOffice run.

    Returns stem -> converted bytes. One run converts them all (LibreOffice starts in ~2 s); the
    profile is private so this may run next to the parsers' own conversions.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="govrag-docgen-") as tmp:
        root = Path(tmp)
        for name, data in files.items():
            (root / name).write_bytes(data)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8"}
        argv = [
            "soffice",
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            "--convert-to",
            target,
            "--outdir",
            str(root / "out"),
            *(str(root / name) for name in files),
        ]
        subprocess.run(argv, env=env, cwd=tmp, capture_output=True, timeout=timeout, check=True)
        return {p.stem: p.read_bytes() for p in (root / "out").iterdir()}


def _rtf_text(text: str) -> str:
    """RTF-escape text: ASCII as is (braces/backslashes escaped), the rest as \\uN? (signed 16-bit)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif code < 128:
            out.append(ch)
        else:
            out.append(f"\\u{code if code < 32768 else code - 65536}?")
    return "".join(out)


def rtf_bytes(blocks: Sequence[tuple[str, object]]) -> bytes:
    """An RTF document from (kind, content): "h1"/"h2" headings (styles with outline levels), "p"
    paragraphs, "table" rows (first row = header). Written by hand, as Word/WordPad would."""
    parts = [
        r"{\rtf1\ansi\ansicpg1252\deff0",
        r"{\fonttbl{\f0\fnil Noto Sans;}}",
        r"{\stylesheet{\s0 Normal;}{\s1\outlinelevel0\b\fs36 heading 1;}"
        r"{\s2\outlinelevel1\b\fs28 heading 2;}}",
    ]
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            level = int(kind[1])
            parts.append(rf"\pard\s{level}\outlinelevel{level - 1}\b {_rtf_text(str(content))}\b0\par")
        elif kind == "p":
            parts.append(rf"\pard\s0 {_rtf_text(str(content))}\par")
        elif kind == "table":
            for row in content:  # type: ignore[attr-defined]
                cells = list(row)
                edges = "".join(rf"\cellx{2500 * (i + 1)}" for i in range(len(cells)))
                body = "".join(rf"\pard\intbl {_rtf_text(str(c))}\cell" for c in cells)
                parts.append(rf"\trowd{edges}{body}\row")
            parts.append(r"\pard\par")
    parts.append("}")
    return "\n".join(parts).encode("ascii")


def epub_bytes(
    chapters: Sequence[tuple[str, Sequence[str]]], title: str, lang: str, headings: bool = True
) -> bytes:
    """An EPUB 3 book: each chapter (title, paragraphs) is an XHTML file listed in the spine and the
    nav document; with `headings=False` the chapter files have no <h1> (titles only in the nav)."""
    from html import escape

    def xhtml(head: str, body: str) -> str:
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            f'xmlns:epub="http://www.idpf.org/2007/ops" lang="{lang}"><head><title>{escape(head)}</title>'
            f"</head><body>{body}</body></html>"
        )

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        out.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # stored, first
        out.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
            zipfile.ZIP_DEFLATED,
        )
        items, refs, links = [], [], []
        for n, (head, paragraphs) in enumerate(chapters, start=1):
            body = (f"<h1>{escape(head)}</h1>" if headings else "") + "".join(
                f"<p>{escape(p)}</p>" for p in paragraphs
            )
            out.writestr(f"OEBPS/text/ch{n}.xhtml", xhtml(head, body), zipfile.ZIP_DEFLATED)
            items.append(f'<item id="ch{n}" href="text/ch{n}.xhtml" media-type="application/xhtml+xml"/>')
            refs.append(f'<itemref idref="ch{n}"/>')
            links.append(f'<li><a href="text/ch{n}.xhtml">{escape(head)}</a></li>')
        nav = f'<nav epub:type="toc"><ol>{"".join(links)}</ol></nav>'
        out.writestr("OEBPS/nav.xhtml", xhtml("Contents", nav), zipfile.ZIP_DEFLATED)
        opf = (
            '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" '
            'version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:identifier id="id">urn:uuid:govrag-test</dc:identifier><dc:title>{escape(title)}</dc:title>'
            f"<dc:language>{lang}</dc:language><dc:date>2025-01-06</dc:date></metadata><manifest>"
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
            f"{''.join(items)}</manifest><spine>{''.join(refs)}</spine></package>"
        )
        out.writestr("OEBPS/content.opf", opf, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def table_pdf(
    before: Sequence[str], rows: Sequence[Sequence[str]], after: Sequence[str], script: str, heading: str = ""
) -> bytes:
    """A one-page PDF: an optional heading, paragraphs, a ruled table (first row = header), paragraphs.

    Cells are drawn by fpdf2's `table()` as government PDFs exported from Word look: one text run
    per cell line, borders as lines, long cells wrapped onto several lines.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    kw = {"collection_font_number": _CJK_SC_INDEX} if script == "cjk" else {}
    pdf.add_font("body", fname=str(font_path(script)), **kw)
    pdf.add_font("fallback", fname=str(font_path("latin")))
    pdf.set_fallback_fonts(["fallback"])
    pdf.add_page()
    if heading:
        pdf.set_font("body", size=20)
        pdf.multi_cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("body", size=12)
    for text in before:
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    with pdf.table(first_row_as_headings=False, line_height=7) as table:
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.ln(3)
    for text in after:
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())


def scanned_table_image(before: Sequence[str], rows: Sequence[Sequence[str]], script: str, px: int = 44):  # type: ignore[no-untyped-def]
    """A 300 dpi page image: lines of text, then a ruled table (first row = header); returns PIL Image.

    Columns are as wide as their longest cell; rules are 3 px dark lines, as a scanner renders them.
    """
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    kw = {"index": _CJK_SC_INDEX} if script == "cjk" else {}
    font = ImageFont.truetype(str(font_path(script)), px, layout_engine=ImageFont.Layout.RAQM, **kw)
    pad, line_h = 30, int(px * 2.0)
    widths = [max(int(font.getlength(str(row[c]))) for row in rows) + 2 * pad for c in range(len(rows[0]))]
    row_h = line_h + pad
    top = 120 + line_h * len(before) + 60
    width = max(2200, 240 + sum(widths))
    image = Image.new("L", (width, top + row_h * len(rows) + 200), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(before):
        draw.text((120, 100 + i * line_h), line, font=font, fill=20)
    xs = [120]
    for w in widths:
        xs.append(xs[-1] + w)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            draw.text((xs[c] + pad, top + r * row_h + pad // 2 + 8), str(value), font=font, fill=20)
    for r in range(len(rows) + 1):
        draw.line([(xs[0], top + r * row_h), (xs[-1], top + r * row_h)], fill=30, width=3)
    for x in xs:
        draw.line([(x, top), (x, top + row_h * len(rows))], fill=30, width=3)
    return image.filter(ImageFilter.GaussianBlur(0.8))


def scanned_table_pdf(before: Sequence[str], rows: Sequence[Sequence[str]], script: str) -> bytes:
    """`scanned_table_image` as a one-page PDF without a text layer."""
    buf = io.BytesIO()
    scanned_table_image(before, rows, script).save(buf, "PDF", resolution=300.0)
    return buf.getvalue()
