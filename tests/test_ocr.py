"""sok.ingest.ocr and `--ocr`: pages without a text layer are listed, and read with
Tesseract's Swedish model when asked. Runs where Tesseract and its Swedish
model are installed (`.ci/run` installs them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from sok.ingest.extract import extract_file
from sok.ingest.ocr import OcrUnavailable, check_available, ocr_pdf_pages

try:
    check_available()
    REASON = ""
except OcrUnavailable as exc:
    REASON = str(exc)
needs_tesseract = pytest.mark.skipif(bool(REASON), reason=REASON)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = [
    "Protokoll från kommunstyrelsen",
    "§ 12 Nedläggning av Skogsgläntans förskola",
    "Beslut: Kommunstyrelsen beslutar att förskolan",
    "läggs ned den 30 juni 2024.",
]


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """An image-only PDF, as a scanner makes it: each page a picture of its lines."""
    images = []
    for lines in pages:
        img = Image.new("L", (1654, 2339), 255)  # A4 at 200 dpi
        draw = ImageDraw.Draw(img)
        font = ImageFont.truetype(FONT, 40) if Path(FONT).exists() else ImageFont.load_default(size=40)
        for i, line in enumerate(lines):
            draw.text((150, 200 + 70 * i), line, fill=0, font=font)
        images.append(img)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=200)
    return path


def test_without_ocr_a_scanned_page_is_listed_as_having_no_text(tmp_path):
    f = extract_file(scanned_pdf(tmp_path / "skannad.pdf", [LINES]), tmp_path)
    assert f.empty_pages == [1] and f.pages[0].text == "" and not f.pages[0].ocr


@needs_tesseract
def test_ocr_reads_the_swedish_text_of_a_scanned_page_only(tmp_path):
    path = scanned_pdf(tmp_path / "skannad.pdf", [LINES, []])
    f = extract_file(path, tmp_path, ocr=True)
    text = f.pages[0].text
    assert f.pages[0].ocr
    for word in ("kommunstyrelsen", "Skogsgläntans", "förskola", "Beslut", "2024"):
        assert word in text
    # a blank page stays empty (no invented text) but counts as read
    assert f.pages[1].ocr and f.pages[1].text == ""
    assert f.empty_pages == [1, 2]


@needs_tesseract
def test_low_confidence_noise_is_dropped(tmp_path):
    path = tmp_path / "brus.pdf"
    img = Image.effect_noise((1654, 2339), 120).point(lambda v: 0 if v < 60 else 255)
    img.save(path, resolution=200)
    page = ocr_pdf_pages(path, [1])[1]
    assert page.text == "" and page.confidence < 60
