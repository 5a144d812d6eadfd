"""Broken text layers: PDFs whose fonts lose ligatures on extraction.

Some PDFs (the Nykarleby minutes in the shared corpus) come out of text
extraction with one letter of every ligature missing or a letter swapped for
another: "at" for "att", "tll" for "till", "fnns" for "finns",
"Personalsektonen" for "Personalsektionen", "ffr" for "för". Such text is
found by neither the stemmer nor the embedder.

The repair is narrow on purpose. A word is repairable when one or two of the
known ligature losses (ti, tt, tf, ff, fi, fl, ft lost to their first letter;
ö read as f), undone, give a Swedish word at least 100 times as frequent
(wordfreq's Zipf scale, +2) and common in its own right (Zipf >= 2.5), or,
for a word no list knows (compounds: "personalsektonen"), when exactly one
undoing gives a word the list knows. On
normal Swedish pages that happens to almost no word (at most 1.3% of a
page's words in the shared corpus, median 0); on the broken pages to 2-16%.
So a file counts as broken only where some page passes both `PAGE_SHARE` and
`PAGE_MIN`, and only then are its repairable words repaired, on every page,
and those pages flagged as repaired text. A normal file is never touched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from wordfreq import zipf_frequency

_WORD = re.compile(r"[^\W\d_]+")

# (what extraction left, what the text had): ligatures that lose a letter, and ö read as f.
_LOSSES = (("t", "ti"), ("t", "tt"), ("t", "tf"), ("f", "ff"), ("f", "fi"), ("f", "fl"), ("f", "ft"), ("f", "ö"))

MIN_ZIPF = 2.5  # the repaired word is a common Swedish word
MIN_GAIN = 2.0  # ... at least 100 times as frequent as the word as extracted
MAX_ZIPF = 5.5  # very common words as extracted are left alone
PAGE_SHARE = 0.02  # share of a page's words that are repairable: a broken page
PAGE_MIN = 3  # ... with at least this many such words
MIN_WORDS = 30  # pages shorter than this are not judged on their own


@lru_cache(maxsize=500_000)
def _zipf(word: str) -> float:
    return zipf_frequency(word, "sv")


def _undo_one(word: str) -> set[str]:
    return {word[:i] + full + word[i + 1:] for i, ch in enumerate(word) for seen, full in _LOSSES if ch == seen}


@lru_cache(maxsize=200_000)
def repaired_word(word: str) -> str | None:
    """The word the extraction damaged, when the fix is certain; else None."""
    lower = word.lower()
    if len(lower) < 2 or word.isupper() or not ("t" in lower or "f" in lower):
        return None  # all capitals: acronyms and case-number prefixes (KFKS), never words to repair
    base = _zipf(lower)
    if base >= MAX_ZIPF:
        return None
    candidates = _undo_one(lower)
    if len(lower) >= 4 and base == 0:  # two losses in one word leave a word no list knows
        candidates |= {two for one in candidates for two in _undo_one(one)}
    known = [c for c in sorted(candidates) if _zipf(c) > 0]
    best = max(known, key=_zipf, default=None)
    if best is None:
        return None
    # a common word far more frequent than what was extracted; or, for a word no list
    # knows (a compound: personalsektonen), the one repair any list knows
    certain = _zipf(best) >= MIN_ZIPF and _zipf(best) - base >= MIN_GAIN
    only_known = base == 0 and len(known) == 1
    if not (certain or only_known):
        return None
    return best[0].upper() + best[1:] if word[0].isupper() else best


@dataclass
class PageQuality:
    words: int
    repairable: int

    @property
    def share(self) -> float:
        return self.repairable / self.words if self.words else 0.0

    @property
    def broken(self) -> bool:
        return self.words >= MIN_WORDS and self.repairable >= PAGE_MIN and self.share >= PAGE_SHARE


def page_quality(text: str) -> PageQuality:
    words = _WORD.findall(text)
    return PageQuality(len(words), sum(1 for w in words if repaired_word(w)))


def repair_text(text: str) -> tuple[str, int]:
    """The text with every repairable word repaired, and how many were."""
    count = 0

    def fix(match: re.Match) -> str:
        nonlocal count
        new = repaired_word(match.group())
        if new is None:
            return match.group()
        count += 1
        return new

    return _WORD.sub(fix, text), count


def file_is_broken(texts: list[str]) -> bool:
    """A file whose font loses ligatures: some page is clearly broken."""
    return any(page_quality(t).broken for t in texts)
