#!/usr/bin/env bash
# Debian packages govrag uses on one machine: Tesseract OCR with the language packs of our eleven
# languages, poppler (PDF rendering for OCR), fonts that cover every script (tests render documents and
# screenshots with them), headless LibreOffice (Writer/Calc/Impress without the GUI: it converts legacy
# .doc/.xls/.ppt, ODT/ODS/ODP and RTF for the parsers; 72 packages, ~100 MB download, ~300 MB
# installed), Chromium for the widget's browser tests, redis-server and PostgreSQL (rate limits and
# the audit log shared by API replicas; the tests start private instances on loopback). Idempotent;
# needs root.
set -euo pipefail
packages=(
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-tha tesseract-ocr-vie tesseract-ocr-ind tesseract-ocr-msa
  tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-tam tesseract-ocr-mya tesseract-ocr-khm
  tesseract-ocr-lao tesseract-ocr-script-thai
  poppler-utils
  libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  fonts-noto-core fonts-noto-cjk fonts-thai-tlwg fonts-khmeros fonts-noto-extra
  chromium
  redis-server postgresql
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "system packages ready: ${#packages[@]} checked, ${#missing[@]} installed"
