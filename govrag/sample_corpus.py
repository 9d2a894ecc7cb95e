"""A small public-service sample corpus that govrag writes itself (quickstart and tests).

Fourteen short documents (twelve files: a JSONL export holds two) about passports, flood relief, dengue,
business registration and fees, in English, Malay, Indonesian, Thai, Vietnamese, Tamil and Chinese,
written out as Markdown, HTML, plain text, DOCX, XLSX, PDF and a JSONL export. Two of them are versions
of one fee circular (No. 12/2025 and No. 12/2026, with different fees): `DATED_QUESTIONS` asks what changed
between them (`govrag eval versions`). The content is illustrative, written for this project; it is not
an official statement of any agency.

Writing is deterministic and idempotent: the generated DOCX/XLSX carry fixed timestamps (zip entries and
core properties), and a file whose bytes are already right is not touched, so a second `govrag quickstart`
finds every document unchanged instead of re-embedding the Office files.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

PASSPORT_EN = """# Renewing your passport

Issued by the Immigration and Checkpoints Department.

## Who can apply online

Citizens aged 16 and above whose current passport expires within 12 months can renew online through the
passport portal. Applicants under 16 must apply with a parent or guardian at a service centre.

## Documents and fee

You need a recent colour photograph with a white background, taken within the last three months, and
your current passport. The renewal fee is 70 dollars, paid by card when you submit the application.

## Collection

Your new passport is ready for collection within 10 working days. Bring your old passport, which will be
cancelled and returned to you. If you lose your passport abroad, contact the nearest embassy at once.
"""

FEE_CIRCULAR_2025 = """# Circular No. 12/2025: identity card service fees

Issued by the National Registration Department on 15 December 2024.

Effective from 1 January 2025.

## Fees

The fee for replacing a lost or damaged identity card is 100 dollars. Express processing within three
working days costs an extra 40 dollars. Fees are paid at the registration office.
"""

FEE_CIRCULAR_2026 = """# Circular No. 12/2026: identity card service fees

Issued by the National Registration Department on 10 February 2026.

Effective from 1 March 2026. This circular replaces Circular No. 12/2025.

## Fees

The fee for replacing a lost or damaged identity card is 150 dollars. Express processing within three
working days costs an extra 60 dollars. Fees are paid at the registration office.
"""

#: The two versions of the fee circular, as paths in the sample corpus.
FEE_2025 = "fees/identity-card-fee-circular-2025.en.md"
FEE_2026 = "fees/identity-card-fee-circular-2026.en.md"

#: Questions whose answer changed between the two circulars: `in_force` is the version that must answer
#: (by `as_of`, a day, or today when None) and `answer` the fee it states. Run by `govrag eval versions`.
DATED_QUESTIONS: list[dict[str, str | None]] = [
    {"id": "lost-now", "lang": "en", "question": "How much is the fee for replacing a lost identity card?",
     "as_of": None, "in_force": FEE_2026, "answer": "150 dollars"},
    {"id": "lost-2025", "lang": "en", "question": "How much is the fee for replacing a lost identity card?",
     "as_of": "2025-06-01", "in_force": FEE_2025, "answer": "100 dollars"},
    {"id": "express-now", "lang": "en", "question": "What does express identity card processing cost?",
     "as_of": None, "in_force": FEE_2026, "answer": "60 dollars"},
    {"id": "express-2025", "lang": "en", "question": "What does express identity card processing cost?",
     "as_of": "2025-09-30", "in_force": FEE_2025, "answer": "40 dollars"},
    {"id": "damaged-eve", "lang": "en", "question": "What was the fee to replace a damaged identity card?",
     "as_of": "2026-02-28", "in_force": FEE_2025, "answer": "100 dollars"},
    {"id": "damaged-day", "lang": "en", "question": "What is the fee to replace a damaged identity card?",
     "as_of": "2026-03-01", "in_force": FEE_2026, "answer": "150 dollars"},
    {"id": "lost-eve", "lang": "en", "question": "How much did it cost to replace a lost identity card?",
     "as_of": "2025-12-31", "in_force": FEE_2025, "answer": "100 dollars"},
    {"id": "express-2027", "lang": "en", "question": "What is the express processing fee for an identity card?",
     "as_of": "2027-01-01", "in_force": FEE_2026, "answer": "60 dollars"},
]  # fmt: skip

FLOOD_MS_HTML = """<!DOCTYPE html>
<html lang="ms"><head><meta charset="utf-8"><title>Bantuan Banjir 2026</title></head>
<body>
<nav>Laman Utama | Perkhidmatan | Hubungi Kami</nav>
<main>
<h1>Bantuan Wang Ihsan Banjir</h1>
<p>Kerajaan menyediakan Bantuan Wang Ihsan sebanyak RM1,000 kepada setiap ketua isi rumah yang terjejas
akibat banjir dan telah berpindah ke pusat pemindahan sementara.</p>
<h2>Cara memohon</h2>
<p>Ketua isi rumah perlu mendaftar di pusat pemindahan sementara atau di pejabat daerah dengan membawa kad
pengenalan. Bayaran akan dikreditkan terus ke akaun bank pemohon dalam tempoh 14 hari selepas pengesahan.</p>
<h2>Bantuan tambahan</h2>
<p>Mangsa yang rumahnya rosak teruk boleh memohon bantuan baik pulih rumah sehingga RM5,000 melalui Jabatan
Kebajikan Masyarakat.</p>
</main>
<footer>Hak cipta terpelihara. Dasar privasi.</footer>
</body></html>
"""

DENGUE_ID = """Pencegahan Demam Berdarah Dengue

Demam berdarah dengue disebarkan oleh nyamuk Aedes aegypti yang berkembang biak di air bersih yang
tergenang.

Lakukan gerakan 3M Plus setiap minggu: menguras tempat penampungan air, menutup rapat wadah air, dan
mendaur ulang barang bekas yang dapat menampung air. Gunakan obat anti nyamuk dan pasang kelambu saat tidur.

Segera periksakan diri ke puskesmas jika mengalami demam tinggi mendadak selama dua sampai tujuh hari,
nyeri otot, atau muncul bintik merah pada kulit. Pemeriksaan di puskesmas tidak dipungut biaya bagi peserta
BPJS Kesehatan.
"""

BUSINESS_TH = [
    ("title", "การจดทะเบียนพาณิชย์สำหรับร้านค้าออนไลน์"),
    (
        "text",
        "ผู้ประกอบการที่ขายสินค้าทางอินเทอร์เน็ตต้องยื่นคำขอจดทะเบียนพาณิชย์ภายใน 30 วันนับแต่วันเริ่มประกอบกิจการ "
        "ที่สำนักงานเขตหรือที่ว่าการอำเภอในพื้นที่ที่ตั้งสำนักงานใหญ่",
    ),
    ("heading", "เอกสารที่ต้องใช้"),
    (
        "text",
        "สำเนาบัตรประจำตัวประชาชน สำเนาทะเบียนบ้าน และแผนที่แสดงที่ตั้งสถานประกอบการ "
        "ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท",
    ),
    ("heading", "การยื่นคำขอด้วยตนเอง"),
    (
        "text",
        "ผู้ยื่นคำขอต้องมาแสดงตนด้วยตนเองพร้อมบัตรประจำตัวประชาชนตัวจริง หากมอบอำนาจให้ผู้อื่นยื่นแทน "
        "ต้องมีหนังสือมอบอำนาจติดอากรแสตมป์ 10 บาท",
    ),
]

BUSINESS_VI_HTML = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Đăng ký hộ kinh doanh</title></head>
<body>
<header>Cổng Dịch vụ công Quốc gia</header>
<article>
<h1>Đăng ký thành lập hộ kinh doanh</h1>
<p>Cá nhân hoặc thành viên hộ gia đình muốn kinh doanh phải nộp hồ sơ đăng ký hộ kinh doanh tại Phòng Tài
chính - Kế hoạch cấp huyện nơi đặt địa điểm kinh doanh.</p>
<h2>Hồ sơ cần chuẩn bị</h2>
<p>Giấy đề nghị đăng ký hộ kinh doanh, bản sao căn cước công dân của chủ hộ và biên bản họp thành viên hộ
gia đình nếu các thành viên cùng góp vốn.</p>
<h2>Thời hạn giải quyết</h2>
<p>Trong thời hạn 03 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ, cơ quan đăng ký sẽ cấp Giấy chứng nhận
đăng ký hộ kinh doanh. Lệ phí đăng ký là 100.000 đồng.</p>
</article>
<footer>Bản quyền thuộc về cơ quan nhà nước.</footer>
</body></html>
"""

DENGUE_TA = """டெங்கு காய்ச்சல் தடுப்பு வழிகாட்டி

டெங்கு காய்ச்சல் ஏடிஸ் கொசுக்களால் பரவுகிறது. இந்தக் கொசுக்கள் தேங்கி நிற்கும் சுத்தமான நீரில் முட்டையிடுகின்றன.

வாரத்திற்கு ஒருமுறை பூந்தொட்டிகள், வாளிகள் மற்றும் பழைய டயர்களில் தேங்கியுள்ள நீரை அகற்றுங்கள். தண்ணீர்த் தொட்டிகளை மூடி வையுங்கள்.

கடுமையான காய்ச்சல், தலைவலி, கண்களுக்குப் பின்னால் வலி அல்லது உடலில் சிவப்புப் புள்ளிகள் தோன்றினால் உடனடியாக அருகிலுள்ள அரசு மருத்துவமனைக்குச் செல்லுங்கள். பரிசோதனை இலவசமாகச் செய்யப்படும்.
"""

PASSPORT_ZH = """# 护照更新须知

## 网上申请

年满十六岁、现有护照在十二个月内到期的公民，可以通过护照网站在线申请更新。未满十六岁的申请人须由父母或监护人陪同到服务中心办理。

## 所需材料与费用

申请人须提交最近三个月内拍摄的白色背景彩色照片以及现有护照。更新费用为七十元，提交申请时以银行卡支付。

## 领取护照

新护照将在十个工作日内可供领取。领取时请携带旧护照，旧护照将被注销后退还给您。
"""

FLOOD_EN_PDF_PAGES = [
    [
        "Flood Relief Assistance Guide",
        "Department of Social Welfare",
        "",
        "Households displaced by floods and registered at a temporary relief centre",
        "receive a one-off cash assistance of 1,000 dollars per household.",
        "Registration is done by the head of household at the relief centre or at",
        "the district office. Bring your identity card and a bank statement.",
    ],
    [
        "Home repair grants",
        "",
        "Owners of homes seriously damaged by floods may apply for a repair grant",
        "of up to 5,000 dollars. An officer will inspect the house within 7 days.",
        "Applications close 60 days after the flood warning is lifted.",
    ],
]

BUSINESS_MS_DOCX = [
    ("title", "Pendaftaran Perniagaan Milikan Tunggal"),
    (
        "text",
        "Setiap perniagaan milikan tunggal dan perkongsian wajib didaftarkan dengan Suruhanjaya Syarikat "
        "sebelum memulakan operasi. Pendaftaran boleh dibuat secara dalam talian.",
    ),
    ("heading", "Fi pendaftaran"),
    (
        "text",
        "Fi pendaftaran ialah RM60 setahun bagi perniagaan yang menggunakan nama perniagaan, dan RM30 "
        "setahun bagi perniagaan yang menggunakan nama sendiri seperti dalam kad pengenalan.",
    ),
    ("heading", "Pembaharuan"),
    (
        "text",
        "Pendaftaran perniagaan perlu diperbaharui sebelum tarikh tamat tempoh. Denda dikenakan jika "
        "pembaharuan dibuat lewat.",
    ),
]

FEES_XLSX = [
    ["Service", "Agency", "Fee", "Processing time"],
    ["Passport renewal", "Immigration and Checkpoints Department", "70 dollars", "10 working days"],
    ["Business registration (own name)", "Companies Commission", "RM30 per year", "1 working day"],
    [
        "Household business certificate",
        "District Finance and Planning Office",
        "100,000 VND",
        "3 working days",
    ],
    ["Commercial registration (online shop)", "District Office", "50 baht", "1 working day"],
]

EXPORT_RECORDS = [
    {
        "id": "faq-dengue-en",
        "title": "Dengue prevention: frequently asked questions",
        "lang": "en",
        "url": "https://health.example.gov/faq/dengue",
        "text": "How often should I check my home for stagnant water? At least once a week. Empty flower pot "
        "plates, cover water containers and clear roof gutters. Dengue mosquitoes breed in clean "
        "stagnant water and bite during the day.",
    },
    {
        "id": "faq-banjir-id",
        "title": "Bantuan korban banjir",
        "lang": "id",
        "url": "https://bnpb.example.go.id/faq/banjir",
        "text": "Korban banjir yang mengungsi dapat menerima bantuan logistik berupa makanan siap saji, air "
        "bersih, selimut, dan perlengkapan bayi di posko pengungsian. Warga cukup melapor kepada "
        "petugas posko dengan menunjukkan KTP atau kartu keluarga.",
    },
]


#: The timestamp written into generated Office files (zip entries and core properties).
FIXED_TIME = datetime(2026, 1, 1, 0, 0, 0)
_CORE_DATES = re.compile(r"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*(</dcterms:)")


def _fixed_zip(data: bytes) -> bytes:
    """`data` (an OOXML zip) rewritten with every entry dated `FIXED_TIME`, so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` with the time of saving
                body = _CORE_DATES.sub(rf"\g<1>{FIXED_TIME:%Y-%m-%dT%H:%M:%SZ}\g<2>", body.decode()).encode()
            dst.writestr(fixed, body)
    return out.getvalue()


def _docx_bytes(blocks: list[tuple[str, str]]) -> bytes:
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.created = props.modified = props.last_printed = FIXED_TIME
    props.revision = 1
    for kind, text in blocks:
        if kind == "title":
            doc.add_heading(text, level=1)
        elif kind == "heading":
            doc.add_heading(text, level=2)
        else:
            doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _xlsx_bytes(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    ws = wb.active
    assert ws is not None
    ws.title = "Fees"
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_simple_pdf(path: Path, pages: list[list[str]]) -> None:
    """Write `simple_pdf_bytes(pages)` to `path`."""
    path.write_bytes(simple_pdf_bytes(pages))


def simple_pdf_bytes(pages: list[list[str]]) -> bytes:
    """A small text PDF (Helvetica, Latin text) with one content stream per page.

    Enough for a sample document with a real text layer; no PDF library is needed at run time.
    """
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1: catalog, 2: pages, 3: font, then (page, content) pairs
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "15 TL", "72 760 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = zlib.compress("\n".join(ops).encode("cp1252"))
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write `data` unless `path` already holds exactly it (keeps mtimes, so nothing looks changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    path.write_bytes(data)


def write_sample_corpus(dest: Path) -> list[Path]:
    """Write the sample corpus into `dest` (created if needed); returns the files written.

    Idempotent: files already holding the right bytes are left alone.
    """
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, Callable[[], bytes]] = {
        "immigration/passport-renewal.en.md": PASSPORT_EN.encode,
        "immigration/passport-renewal.zh.md": PASSPORT_ZH.encode,
        FEE_2025: FEE_CIRCULAR_2025.encode,
        FEE_2026: FEE_CIRCULAR_2026.encode,
        "welfare/bantuan-banjir.ms.html": FLOOD_MS_HTML.encode,
        "health/demam-berdarah.id.txt": DENGUE_ID.encode,
        "health/dengue-prevention.ta.txt": DENGUE_TA.encode,
        "business/dang-ky-ho-kinh-doanh.vi.html": BUSINESS_VI_HTML.encode,
        "exports/faq.jsonl": lambda: "".join(
            json.dumps(r, ensure_ascii=False) + "\n" for r in EXPORT_RECORDS
        ).encode(),
        "business/jdtb-perniagaan.ms.docx": lambda: _docx_bytes(BUSINESS_MS_DOCX),
        "business/commercial-registration.th.docx": lambda: _docx_bytes(BUSINESS_TH),
        "welfare/flood-relief-guide.en.pdf": lambda: simple_pdf_bytes(FLOOD_EN_PDF_PAGES),
        "fees/service-fees.xlsx": lambda: _xlsx_bytes(FEES_XLSX),
    }
    written: list[Path] = []
    for rel, make in files.items():
        path = dest / rel
        _write_if_changed(path, make())
        written.append(path)
    return written
