"""Files to pages. PDFs are read with pypdfium2 (measured ~10x faster than
pypdf on the shared corpus, same page counts and text); pypdf is kept as the
second engine for files pdfium cannot open. Markdown keeps the page numbers
of its `<!-- sida N -->` markers; plain text splits pages on form feeds."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sok.config import LIMITS, SUPPORTED_SUFFIXES, LimitsConfig
from sok.records import ExtractedFile, Page


class ExtractionError(Exception):
    """A file that cannot be read; the message says why, in Swedish."""


_BROKEN_HINT = "öppna den i en PDF-läsare och spara eller exportera den på nytt"
_ENCRYPTED_HINT = "spara en kopia utan lösenord i mappen"
_PAGE_MARKER = re.compile(r"<!--\s*sida\s+(\d+)\s*-->", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_files(folder: Path) -> list[Path]:
    """Every supported file under `folder`, in a stable order; hidden files skipped."""
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append(p)
    return found


def _pdf_pages_pdfium(path: Path, max_pages: int) -> list[str]:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise ExtractionError(f"PDF-filen är krypterad (lösenordsskyddad); {_ENCRYPTED_HINT}") from exc
        raise ExtractionError(f"PDF-filen kan inte läsas ({msg}); {_BROKEN_HINT}") from exc
    try:
        _check_pages(len(doc), max_pages)
        texts = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


def _check_pages(n: int, max_pages: int) -> None:
    if n > max_pages:
        raise ExtractionError(f"PDF-filen har {n} sidor, fler än gränsen {max_pages} (ändra med --max-pages)")


def _pdf_pages_pypdf(path: Path, max_pages: int) -> list[str]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's business
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError(f"PDF-filen är krypterad (lösenordsskyddad); {_ENCRYPTED_HINT}")
        _check_pages(len(reader.pages), max_pages)
        return [(page.extract_text() or "") for page in reader.pages]
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"PDF-filen kan inte läsas ({exc}); {_BROKEN_HINT}") from exc


def read_pdf(path: Path, limits: LimitsConfig = LIMITS) -> list[Page]:
    """Page texts of a PDF; pypdf is tried only when pdfium cannot open the file
    (an encrypted or over-long file is reported as such, not retried). A PDF
    encrypted with an empty user password opens like any other."""
    if path.stat().st_size == 0:
        raise ExtractionError("filen är tom (0 byte)")
    try:
        texts = _pdf_pages_pdfium(path, limits.max_pages)
    except ExtractionError as first:
        if "krypterad" in str(first) or "gränsen" in str(first):
            raise
        try:
            texts = _pdf_pages_pypdf(path, limits.max_pages)
        except ExtractionError:
            raise first from None
    if not texts:
        raise ExtractionError("PDF-filen har inga sidor")
    return [Page(number=i + 1, text=t) for i, t in enumerate(texts)]


def split_markdown_pages(text: str) -> list[Page]:
    """Pages from `<!-- sida N -->` markers; text before the first marker joins
    page 1. Without markers the whole file is page 1."""
    text = _FRONT_MATTER.sub("", text, count=1)
    parts = _PAGE_MARKER.split(text)
    if len(parts) == 1:
        return [Page(number=1, text=text)]
    pages: dict[int, str] = {}
    lead = parts[0]
    for i in range(1, len(parts), 2):
        number = int(parts[i])
        body = parts[i + 1]
        if lead.strip():
            body, lead = lead + body, ""
        pages[number] = pages.get(number, "") + body
    return [Page(number=n, text=t) for n, t in sorted(pages.items())]


def read_text_file(path: Path) -> list[Page]:
    raw = path.read_bytes()
    if not raw.strip():
        raise ExtractionError("filen är tom")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if path.suffix.lower() in (".md", ".markdown"):
        return split_markdown_pages(text)
    return [Page(number=i + 1, text=t) for i, t in enumerate(text.split("\f"))]


def extract_file(
    path: Path, root: Path, sha256: str | None = None, limits: LimitsConfig = LIMITS, ocr: bool = False
) -> ExtractedFile:
    """Read one file into pages. Raises ExtractionError with a Swedish reason.
    With `ocr`, PDF pages without a text layer are read by OCR (sok.ingest.ocr); an OCR
    failure leaves them empty and adds a warning, it never fails the file."""
    path = path.resolve()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ExtractionError(f"filen kan inte öppnas ({exc.strerror})") from exc
    if size > limits.max_file_mb * 1_000_000:
        raise ExtractionError(f"filen är {size / 1e6:.0f} MB, större än gränsen {limits.max_file_mb:g} MB (ändra med --max-mb)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages, kind = read_pdf(path, limits), "pdf"
    elif suffix in SUPPORTED_SUFFIXES:
        pages, kind = read_text_file(path), ("md" if suffix != ".txt" else "txt")
    else:
        raise ExtractionError(f"filtypen {suffix or '(ingen)'} stöds inte")
    warnings = _ocr_empty_pages(path, pages) if ocr and kind == "pdf" else []
    return ExtractedFile(
        path=str(path),
        relpath=str(path.relative_to(root.resolve())) if path.is_relative_to(root.resolve()) else path.name,
        sha256=sha256 or sha256_file(path),
        size=size,
        kind=kind,
        pages=pages,
        warnings=warnings,
    )


def _ocr_empty_pages(path: Path, pages: list[Page]) -> list[str]:
    from sok.ingest.ocr import ocr_pdf_pages

    empty = [p for p in pages if p.is_empty]
    if not empty:
        return []
    try:
        texts = ocr_pdf_pages(path, [p.number for p in empty])
    except Exception as exc:  # a page OCR cannot read must not cost the file its text layer
        return [f"OCR misslyckades ({exc}); sidorna {', '.join(str(p.number) for p in empty)} saknar text"]
    for p in empty:
        read = texts.get(p.number)
        p.text, p.ocr = (read.text if read else ""), True
    return []
