"""Page text as chunking and matching need it: line endings and hyphenation
repaired, running headers and footers dropped, whitespace normalised. The
original page text is stored separately, for display."""

from __future__ import annotations

import re
from collections import Counter

from sok.ingest.textquality import file_is_broken, repair_text
from sok.language import SECTION_WORDS
from sok.records import Page

ZONE_LINES = 6  # lines at the top and bottom of a page where headers/footers live
MIN_PAGES = 3
SHARE = 0.5
MAX_BOILERPLATE_CHARS = 160

# Words after a line-break hyphen that mean the hyphen is real:
# "hälso- och sjukvård", "för- eller grundskola".
_KEEP_HYPHEN_BEFORE = {"och", "eller", "samt", "till", "som", "resp", "respektive", "men"}
_SOFT_BREAK = re.compile(r"[ \t]*\n?[ \t]*[\u00ad\ufffe][ \t]*\n?[ \t]*")
# pdfium writes U+FFFE for any hyphen at a line end, also the real one in "arbets- och".
_SOFT_BEFORE_CONJUNCTION = re.compile(
    r"[\u00ad\ufffe][ \t]*\n?[ \t]*(" + "|".join(sorted(_KEEP_HYPHEN_BEFORE)) + r")\b", re.IGNORECASE
)
_LINE_HYPHEN = re.compile(r"(\w)-[ \t]*\n[ \t]*([a-zåäöéü]\w*)")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_MD_EMPHASIS = re.compile(r"(\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w))")
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # Markdown's backslash escapes: "\<(e-post borttagen)>"
_SECTION_LINE = re.compile(r"^\s*(§+\s*#|#\s*§)")  # keys have digits as #


def _join_hyphen(match: re.Match) -> str:
    word = match.group(2)
    if word.casefold() in _KEEP_HYPHEN_BEFORE:
        return f"{match.group(1)}- {word}"
    return match.group(1) + word


def normalize(text: str) -> str:
    """Unify line endings, join words broken at line ends, drop Markdown's
    emphasis marks and backslash escapes, collapse spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SOFT_BEFORE_CONJUNCTION.sub(r"- \1", text)
    text = _SOFT_BREAK.sub("", text)
    text = _LINE_HYPHEN.sub(_join_hyphen, text)
    text = _MD_ESCAPE.sub(r"\1", text)
    text = _MD_EMPHASIS.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", line.casefold()).strip()


def _zones(lines: list[str]) -> list[int]:
    """Indices of the non-empty lines at the top and bottom of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:ZONE_LINES] + filled[-ZONE_LINES:]))


def boilerplate_keys(page_texts: list[list[str]]) -> set[str]:
    """Lines that repeat in the header/footer zone of most pages of one file."""
    filled = [lines for lines in page_texts if any(line.strip() for line in lines)]
    if len(filled) < MIN_PAGES:
        return set()
    counts: Counter[str] = Counter()
    for lines in filled:
        counts.update({_key(lines[i]) for i in _zones(lines)})
    needed = max(MIN_PAGES, SHARE * len(filled))
    return {
        key
        for key, n in counts.items()
        if n >= needed and key and len(key) <= MAX_BOILERPLATE_CHARS and not _SECTION_LINE.match(key)
        and key.rstrip(":") not in SECTION_WORDS
    }


def clean_pages(pages: list[Page]) -> list[Page]:
    """Fill `clean` on every page of one file (in place, and returned). In a file
    whose font loses ligatures, damaged words are repaired (sok.ingest.textquality)."""
    split = [normalize(p.text).split("\n") for p in pages]
    drop = boilerplate_keys(split)
    for page, lines in zip(pages, split):
        if drop:
            zone = set(_zones(lines))
            lines = [line for i, line in enumerate(lines) if not (i in zone and _key(line) in drop)]
        page.clean = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if file_is_broken([p.clean for p in pages]):
        for page in pages:
            page.clean, page.repaired = repair_text(page.clean)
    return pages
