"""OCR for PDF pages without a text layer (scans, photographed pages), with
Tesseract's Swedish model. Optional: it needs the Debian packages
`tesseract-ocr` and `tesseract-ocr-swe` and the `pytesseract` extra, and runs
only on `sok index --ocr`, only on the pages that have no text, because it
costs seconds per page where the text layer costs milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median

LANG = "swe"
DPI = 300  # Tesseract reads body text best at about 300 dpi
# Median word confidence below which a page's OCR text is noise, not text. Measured on
# the shared corpus: a typed reservation page 96, a handwritten page 23.5.
MIN_CONFIDENCE = 60.0


class OcrUnavailable(Exception):
    """OCR was asked for but cannot run here; the message says what to install, in Swedish."""


@dataclass(frozen=True)
class OcrConfig:
    lang: str = LANG
    dpi: int = DPI
    min_confidence: float = MIN_CONFIDENCE


def check_available(lang: str = LANG) -> None:
    """Raise OcrUnavailable with an install hint unless Tesseract and its language model are here."""
    try:
        import pytesseract
    except ImportError as exc:
        raise OcrUnavailable("OCR kräver paketet pytesseract: pip install 'sok[ocr]'") from exc
    try:
        langs = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise OcrUnavailable("OCR kräver Tesseract: apt-get install tesseract-ocr tesseract-ocr-swe") from exc
    if lang not in langs:
        raise OcrUnavailable(f"Tesseract saknar språket {lang!r}: apt-get install tesseract-ocr-{lang}")


@dataclass(frozen=True)
class OcrPage:
    text: str  # empty when the page held no readable text (blank, handwriting, pictures)
    confidence: float  # Tesseract's median word confidence, 0-100
    words: int


def _read(data: dict, min_confidence: float) -> OcrPage:
    """Lines rebuilt from Tesseract's word table, kept only if the page reads as text."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for word, conf, *key in zip(data["text"], data["conf"], data["block_num"], data["par_num"], data["line_num"]):
        if word.strip() and float(conf) >= 0:
            lines.setdefault(tuple(key), []).append(word)
            confidences.append(float(conf))
    confidence = float(median(confidences)) if confidences else 0.0
    text = "\n".join(" ".join(ws) for ws in lines.values()) if confidence >= min_confidence else ""
    return OcrPage(text, round(confidence, 1), len(confidences))


def ocr_pdf_pages(path: Path, numbers: list[int], config: OcrConfig = OcrConfig()) -> dict[int, OcrPage]:
    """The given 1-based pages of a PDF, read from their rendered image."""
    import pypdfium2 as pdfium
    import pytesseract

    out: dict[int, OcrPage] = {}
    doc = pdfium.PdfDocument(str(path))
    try:
        for number in numbers:
            page = doc[number - 1]
            try:
                image = page.render(scale=config.dpi / 72).to_pil()
            finally:
                page.close()
            data = pytesseract.image_to_data(image, lang=config.lang, output_type=pytesseract.Output.DICT)
            out[number] = _read(data, config.min_confidence)
    finally:
        doc.close()
    return out
