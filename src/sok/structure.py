"""What a file says about itself: a title and a meeting or document date,
read from its first page. Kept small on purpose; richer meeting metadata
(organ, type, §, case numbers) grows here."""

from __future__ import annotations

import re

from .records import ExtractedFile

MONTHS = {
    "januari": 1, "februari": 2, "mars": 3, "april": 4, "maj": 5, "juni": 6, "juli": 7,
    "augusti": 8, "september": 9, "oktober": 10, "november": 11, "december": 12,
}
_ISO = r"(20\d\d|19\d\d)-(\d\d)-(\d\d)"
_LABELLED = re.compile(r"(?:Sammanträdesdatum|Mötesdatum|Sammanträde|Datum)\s*:?\s*\n?\s*" + _ISO, re.IGNORECASE)
_ANY_ISO = re.compile(r"(?<!\d)" + _ISO + r"(?!\d)")
_WORDS_DATE = re.compile(r"(?<!\d)(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(20\d\d|19\d\d)", re.IGNORECASE)
_FINNISH = re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})\.(20\d\d)(?!\d)")
_NOT_TITLE = re.compile(r"^(www\.|https?:|postadress|e-post|tel|sida|\d+\s*\(\d+\)|\d+$)", re.IGNORECASE)


def _valid(y: int, m: int, d: int) -> str | None:
    if 1 <= m <= 12 and 1 <= d <= 31:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return None


def find_date(text: str) -> str | None:
    """The first date the text states, preferring a labelled meeting date."""
    head = text[:3000]
    for pattern in (_LABELLED, _ANY_ISO):
        m = pattern.search(head)
        if m and (iso := _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)))):
            return iso
    m = _WORDS_DATE.search(head)
    if m:
        return _valid(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
    m = _FINNISH.search(head)
    if m:
        return _valid(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    return None


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


def describe(f: ExtractedFile) -> None:
    """Fill title and date of an extracted, cleaned file (in place)."""
    first = next((p.clean for p in f.pages if p.clean.strip()), "")
    stem = f.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " ")
    f.title = find_title(first, stem)
    f.date = find_date(first)
