"""Files to pages. PDFs are read with pypdfium2 (measured ~10x faster than
pypdf on the shared corpus, same page counts and text); pypdf is kept as the
second engine for files pdfium cannot open. Markdown keeps the page numbers
of its `<!-- sida N -->` markers; plain text splits pages on form feeds."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
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


def display_name(path: Path | str) -> str:
    """A file name as it can be printed and stored: bytes that are not UTF-8
    (a Latin-1 name from a Windows share) shown as replacement characters."""
    return os.fsencode(path).decode("utf-8", errors="replace")


@dataclass
class Scan:
    """What a folder holds for indexing, and what it holds that is left out."""

    files: list[Path]
    bad_names: list[str]  # not UTF-8: could be neither stored nor cited (shown with replacement characters)
    outside_links: list[str]  # links to files outside the folder, not followed


def scan_folder(folder: Path, follow_links: bool = False) -> Scan:
    """Every supported file under `folder` in a stable order (hidden files
    skipped). A link to a file outside the folder is left out unless
    `follow_links`: indexing it would show text from outside what was asked
    for (and the file route refuses to serve it). A file reached twice
    (a link to a file in the folder) is read once, under its real name."""
    out = Scan([], [], [])
    root = folder.resolve()
    by_target: dict[Path, Path] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if not (p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file()):
            continue
        if str(rel) != display_name(rel):
            out.bad_names.append(display_name(rel))
        elif not follow_links and p.is_symlink() and not p.resolve().is_relative_to(root):
            out.outside_links.append(str(rel))
        else:
            target = p.resolve()
            if target not in by_target or by_target[target].is_symlink():
                by_target[target] = p
    out.files = sorted(by_target.values())
    return out


def find_files(folder: Path) -> list[Path]:
    """Every supported file under `folder` that `scan_folder` keeps."""
    return scan_folder(folder).files


def _check_chars(page: int, chars: int, total: int, limits: LimitsConfig) -> None:
    """A page or a file whose text runs far past any real record is a text
    bomb (or a generated dump): refused before it fills memory and the embedder."""
    if chars > limits.max_page_chars:
        raise ExtractionError(f"sidan {page} har {chars:,} tecken text, fler än gränsen {limits.max_page_chars:,} "
                              "per sida (en textbomb eller en genererad fil?)".replace(",", " "))
    _check_total(total, limits)


def _check_total(total: int, limits: LimitsConfig) -> None:
    if total > limits.max_chars:
        raise ExtractionError(f"filen har mer än {limits.max_chars:,} tecken text (gränsen per fil); "
                              "dela upp den eller kontrollera att den är en riktig handling".replace(",", " "))


def _pdf_pages_pdfium(path: Path, limits: LimitsConfig) -> list[str]:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise ExtractionError(f"PDF-filen är krypterad (lösenordsskyddad); {_ENCRYPTED_HINT}") from exc
        raise ExtractionError(f"PDF-filen kan inte läsas ({msg}); {_BROKEN_HINT}") from exc
    try:
        _check_pages(len(doc), limits.max_pages)
        texts: list[str] = []
        total = 0
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            chars = textpage.count_chars()
            total += chars
            _check_chars(i + 1, chars, total, limits)
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


def _check_pages(n: int, max_pages: int) -> None:
    if n > max_pages:
        raise ExtractionError(f"PDF-filen har {n} sidor, fler än gränsen {max_pages} (ändra med --max-pages)")


def _pdf_pages_pypdf(path: Path, limits: LimitsConfig) -> list[str]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's business
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError(f"PDF-filen är krypterad (lösenordsskyddad); {_ENCRYPTED_HINT}")
        _check_pages(len(reader.pages), limits.max_pages)
        texts: list[str] = []
        total = 0
        for i, page in enumerate(reader.pages):
            texts.append(page.extract_text() or "")
            total += len(texts[-1])
            _check_chars(i + 1, len(texts[-1]), total, limits)
        return texts
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
        texts = _pdf_pages_pdfium(path, limits)
    except ExtractionError as first:
        if "krypterad" in str(first) or "gränsen" in str(first):
            raise
        try:
            texts = _pdf_pages_pypdf(path, limits)
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
        _check_total(sum(len(page.text) for page in pages), limits)  # a text file's page may be the whole file
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
