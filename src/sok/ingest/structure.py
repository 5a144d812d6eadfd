"""A file's structure: its logical documents (sok.ingest.meeting reads them from
the content), passages chunked inside each document, and the metadata every
passage carries (§, part, decision or proposal, dates, case numbers)."""

from __future__ import annotations

import re

from sok.ingest.chunking import chunk_span, windows
from sok.ingest.meeting import ItemIndex, LogicalDocument, document_spans, passage_context, split_documents
from sok.ingest.politics import positions_of_file
from sok.language import complete_case_numbers, find_case_numbers, resolve_dates
from sok.records import ExtractedFile, Passage

_NOT_TITLE = re.compile(r"^(www\.|https?:|postadress|e-post|tel|sida|\d+\s*\(\d+\)|\d+$)", re.IGNORECASE)


def find_title(text: str, fallback: str) -> str:
    """A Markdown heading, else the first line that reads like a title."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    for line in lines[:40]:
        if line.startswith("#"):
            return line.lstrip("#").strip()
    for line in lines[:15]:
        letters = sum(ch.isalpha() for ch in line)
        if 3 <= len(line.split()) <= 16 and letters >= 0.6 * len(line) and not _NOT_TITLE.match(line):
            return line.rstrip(" .:")
    return fallback


def document_date(doc: LogicalDocument) -> str | None:
    """The date a document is filed under: its meeting's, else its own."""
    return doc.meeting_date or doc.document_date


_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


def year_hint(doc: LogicalDocument, head: str) -> int | None:
    """The year that dates without one ("den 30 maj") belong to: the
    document's date, else a year in its title, else the first on its first page."""
    for text in (document_date(doc) or "", doc.title or "", head[:2000]):
        if m := _YEAR.search(text):
            return int(m.group(1))
    return None


_DECISION_LINE = re.compile(r"^.{0,40}\bbeslut:?\s*$", re.IGNORECASE | re.MULTILINE)


def _annotate(passage: Passage, doc: LogicalDocument, index: int, year: int | None, items: ItemIndex) -> None:
    item_no, part, decision = passage_context(doc, passage.page_start, passage.char_start, items)
    # A passage that starts before its § (a page header) or before "Beslut" may still
    # belong to the § and hold its decision: look at its line starts too.
    if passage.page_start == passage.page_end:  # then text offsets are page offsets from char_start
        for m in re.finditer(r"^", passage.text, re.MULTILINE):
            if item_no:
                break
            item_no = passage_context(doc, passage.page_start, passage.char_start + m.start(), items)[0]
        for m in _DECISION_LINE.finditer(passage.text):
            decision = decision or passage_context(doc, passage.page_start, passage.char_start + m.end() + 1, items)[2]
    item = items.by_number.get(item_no) if item_no else None
    passage.document = index
    passage.item = f"§ {item_no}" if item_no and item_no.isdigit() and doc.doc_type != "kallelse" else item_no
    passage.item_title = item.title if item else None
    passage.part = part
    passage.is_decision = decision
    passage.dates = resolve_dates(passage.text, year)
    passage.case_numbers = list(dict.fromkeys([*find_case_numbers(passage.text), *(item.case_numbers if item else [])]))


def structure(f: ExtractedFile) -> list[Passage]:
    """Split a cleaned file into logical documents, chunk each one, and fill
    the file's title and date from its first document (in place)."""
    f.documents = split_documents(f.pages)
    passages: list[Passage] = []
    texts = {p.number: p.clean for p in f.pages}
    for index, doc in enumerate(f.documents):
        year = year_hint(doc, texts.get(doc.page_start, ""))
        items = ItemIndex.of(doc)
        for passage in chunk_span(f.pages, list(document_spans(doc, f.pages))):
            _annotate(passage, doc, index, year, items)
            passages.append(passage)
    for passage, found in zip(passages, positions_of_file([p.text for p in passages])):
        passage.positions = found
    known = {n for passage in passages for n in passage.case_numbers} | {n for d in f.documents for n in d.case_numbers}
    for ordinal, passage in enumerate(passages):
        passage.ordinal = ordinal
        passage.case_numbers = complete_case_numbers(passage.case_numbers, known)
    for doc in f.documents:
        doc.case_numbers = complete_case_numbers(doc.case_numbers, known)
    first_text = next((p.clean for p in f.pages if p.clean.strip()), "")
    stem = f.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " ")
    first = f.documents[0] if f.documents else None
    f.title = (first.title if first and first.title else "") or find_title(first_text, stem)
    f.date = document_date(first) if first else None
    for doc in f.documents:
        doc.title = doc.title or f.title
    return passages


def embedding_input(f: ExtractedFile, passage: Passage) -> str:
    """What the embedder sees of a passage: the document title and heading
    path before its text, so "Beslutsgång ..." on page 50 still says which §
    and motion it belongs to (dev sets: dense MRR@10 0.779 -> 0.833, hybrid
    hit@5 0.900 -> 0.933)."""
    title = f.documents[passage.document].title if f.documents else f.title
    return f"{title}\n{' › '.join(passage.heading_path)}\n{passage.text}"


def window_inputs(f: ExtractedFile, passage: Passage) -> list[str]:
    """The embedder inputs of the passage's sentence windows (chunking.windows):
    the bare sentences, without the title and headings the passage vector
    already carries: a leg that sees only the sentences disagrees usefully
    with the passage leg, and is cheaper to embed (benchmarks/tried.md). A
    passage that is one window is its own window: same input, one vector."""
    parts = windows(passage.text)
    if len(parts) <= 1:
        return [embedding_input(f, passage)]
    return parts
