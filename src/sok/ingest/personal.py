"""Personal data in meeting records: personnummer are withheld at indexing,
and pages marked as secret are listed for the clerk.

Minutes of individärenden carry personnummer, and a search tool spreads
whatever it indexes into snippets, answers, an LLM's prompt and the app. So
the numbers are masked in the text before anything downstream sees it
(passages, the lexical and vector indexes, answers, the served text view),
digit by digit with the same length, so every page offset and citation stays
right. Only an index built with `sok index --show-personal-data` (authorised
local use) keeps them.

A personnummer here is 10 or 12 digits (ÅÅMMDD-NNNC or ÅÅÅÅMMDDNNNC, with
"-", "+" or nothing before the last four) whose date exists (or is a
samordningsnummer, day + 60) and whose last digit is the Luhn check digit of
the ten: phone numbers and case numbers rarely pass both.
"""

from __future__ import annotations

import re

from sok.records import Page

MASK = "•"

_PNR = re.compile(r"(?<![\w/.:+-])((?:19|20)?)(\d{2})(\d{2})(\d{2})\s?([-+]?)\s?(\d{4})(?![\w/-]|[.,]\d)")
_SECRECY = re.compile(
    r"omfattas\s+av\s+sekretess|sekretessbelag\w*|sekretessprövning|bortredigera\w*|maskera(?:d|t|de)\b"
    r"|enligt\s+(?:\d+\s+kap\.?\s+\d+\s+§\s+)?offentlighets-\s+och\s+sekretesslagen|\bOSL\b",
    re.IGNORECASE,
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _valid(m: re.Match[str]) -> bool:
    _, yy, mm, dd, _, last = m.groups()
    month, day = int(mm), int(dd)
    day = day - 60 if day > 60 else day  # samordningsnummer
    return 1 <= month <= 12 and 1 <= day <= 31 and _luhn(yy + mm + dd + last)


def find_personnummer(text: str) -> list[tuple[int, int]]:
    """(start, end) of each personnummer in `text`."""
    return [m.span() for m in _PNR.finditer(text) if _valid(m)]


def mask(text: str) -> tuple[str, int]:
    """The text with every digit of each personnummer replaced by MASK (same
    length, so offsets hold), and how many were masked."""
    spans = find_personnummer(text)
    if not spans:
        return text, 0
    out, pos = [], 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(re.sub(r"\d", MASK, text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out), len(spans)


def marked_secret(text: str) -> bool:
    """The page says that something on it is secret or has been redacted."""
    return bool(_SECRECY.search(text))


def withhold(pages: list[Page], show: bool = False) -> None:
    """Note on each page (records.Page) how many personnummer it holds and
    whether it is marked secret, and mask the numbers in its text and clean
    text unless `show` (in place)."""
    for page in pages:
        text, found = mask(page.text)
        clean, found_clean = mask(page.clean)
        page.personnummer = max(found, found_clean)
        page.secret = marked_secret(page.clean or page.text)
        if not show:
            page.text, page.clean = text, clean
