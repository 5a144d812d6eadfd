"""Cleaned pages to passages of about 100-250 words that follow the visible
structure of a document (Markdown headings, §, numbered items, the fixed
section words of Swedish minutes), never crossing a document boundary.
Passages are exact slices of the cleaned page text, so their offsets can be
used to highlight them on the page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sok.config import CHUNK, ChunkConfig
from sok.language import SECTION_WORDS
from sok.records import Page, Passage

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+)$")
_PARAGRAPH = re.compile(r"^§+\s*\d+[a-z]?\b")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+[A-ZÅÄÖ]")
_NR_ITEM = re.compile(r"^(?:Nr|Punkt|Ärende)\s+\d+[.:]", re.IGNORECASE)
_WORD = re.compile(r"\S+")
_TOC_LEADER = re.compile(r"\.{4,}|…{2,}")  # table-of-contents lines are not headings
_SENTENCE_END = re.compile(r"[.!?:;]$")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?:;])\s+|\n\s*\n")


@dataclass
class _Block:
    page: int
    start: int
    end: int
    words: int
    level: int = 0  # heading level; 0 for body text
    heading: str = ""


def heading_level(line: str) -> tuple[int, str]:
    """(level, heading text) when the line looks like a heading, else (0, "")."""
    line = line.strip()
    if not line or len(line) > 250 or _TOC_LEADER.search(line):
        return 0, ""
    m = _MD_HEADING.match(line)
    if m:
        return len(m.group(1)), m.group(2).strip()
    if _NR_ITEM.match(line):  # numbered assignments ("Nr 5. Att följa ...") may run long
        return 3, line
    if len(line) > 120:
        return 0, ""
    if _PARAGRAPH.match(line):
        return 2, line
    m = _NUMBERED.match(line)
    if m and len(line) <= 90 and not line.endswith((",", ";")):
        return 2 + m.group(1).count("."), line
    if line.rstrip(":").casefold() in SECTION_WORDS:
        return 5, line.rstrip(":")
    return 0, ""


def _needs_title(heading: str) -> bool:
    """A § line that carries only its number and case number ("§ 154 KFKS
    2019/95"): in minutes the item's title follows on the next line."""
    rest = re.sub(r"^§+\s*\d+[a-z]?", "", heading)
    rest = re.sub(r"\b[A-ZÅÄÖ]{2,}[\s-]*\d{2,4}[/-]\d+(?:[/-]\d+)*\b|\bDnr\b", "", rest)
    return sum(ch.isalpha() for ch in rest) < 4


def _page_blocks(page: Page) -> list[_Block]:
    """Headings as single-line blocks (a bare § line takes the title line
    after it); runs of body lines up to a blank line."""
    blocks: list[_Block] = []
    pos = 0
    run: _Block | None = None
    titled: _Block | None = None  # a bare § heading waiting for its title line
    for line in page.clean.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        level, heading = heading_level(line)
        if titled is not None and line.strip() and not level and len(line) <= 100:
            titled.end = end
            titled.words += len(line.split())
            titled.heading = f"{titled.heading} {line.strip()}"
            titled = None
            continue
        titled = None
        if not line.strip() or level:
            if run:
                blocks.append(run)
                run = None
            if level:
                blocks.append(_Block(page.number, start, end, len(line.split()), level, heading))
                if _PARAGRAPH.match(line.strip()) and _needs_title(heading):
                    titled = blocks[-1]
            continue
        if run is None:
            run = _Block(page.number, start, end, 0)
        run.end = end
        run.words += len(line.split())
    if run:
        blocks.append(run)
    return blocks


def _split_block(block: _Block, text: str, cfg: ChunkConfig) -> list[_Block]:
    """Cut an over-long block at sentence ends (or word boundaries) near the target size."""
    words = [(m.start() + block.start, m.end() + block.start) for m in _WORD.finditer(text[block.start:block.end])]
    pieces, i = [], 0
    while i < len(words):
        j = min(len(words), i + cfg.target_words)
        if len(words) - i <= cfg.max_words:
            j = len(words)
        else:
            floor = i + int(cfg.target_words * 0.6)
            for k in range(j, floor, -1):
                if _SENTENCE_END.search(text[words[k - 1][0]:words[k - 1][1]]):
                    j = k
                    break
        pieces.append(_Block(block.page, words[i][0], words[j - 1][1], j - i))
        i = j
    return pieces


def _passage_text(blocks: list[_Block], pages: dict[int, str]) -> str:
    parts: list[str] = []
    for page_no in dict.fromkeys(b.page for b in blocks):
        on_page = [b for b in blocks if b.page == page_no]
        parts.append(pages[page_no][on_page[0].start:on_page[-1].end])
    return "\n".join(parts)


def chunk_pages(pages: list[Page], cfg: ChunkConfig = CHUNK) -> list[Passage]:
    """Passages for one document (its cleaned pages, in order)."""
    texts = {p.number: p.clean for p in pages}
    blocks: list[_Block] = []
    for page in pages:
        for block in _page_blocks(page):
            if not block.level and block.words > cfg.max_words:
                blocks.extend(_split_block(block, page.clean, cfg))
            else:
                blocks.append(block)

    groups: list[tuple[list[_Block], list[str]]] = []
    stack: list[tuple[int, str]] = []
    current: list[_Block] = []
    current_path: list[str] = []
    words = 0

    def flush() -> None:
        nonlocal current, words
        if current and any(not b.level for b in current):
            groups.append((current, current_path))
        elif current and groups:  # trailing headings only: keep them with the text before
            groups[-1][0].extend(current)
        elif current:
            groups.append((current, current_path))
        current, words = [], 0

    for block in blocks:
        if block.level:
            if words >= cfg.min_words:
                flush()
            stack = [(lvl, h) for lvl, h in stack if lvl < block.level] + [(block.level, block.heading)]
        elif words and (words + block.words > cfg.max_words):
            flush()
        if all(b.level for b in current):  # no body text yet: the path is the latest headings
            current_path = [h for _, h in stack]
        current.append(block)
        words += block.words
        if not block.level and words >= cfg.target_words:
            flush()
    flush()

    # A short tail joins the passage before it when the two still fit.
    if len(groups) > 1:
        tail_words = sum(b.words for b in groups[-1][0])
        prev_words = sum(b.words for b in groups[-2][0])
        if tail_words < cfg.min_words and tail_words + prev_words <= cfg.max_words:
            groups[-2][0].extend(groups.pop()[0])

    passages = []
    for ordinal, (group, path) in enumerate(groups):
        passages.append(
            Passage(
                ordinal=ordinal,
                text=_passage_text(group, texts),
                page_start=group[0].page,
                page_end=group[-1].page,
                char_start=group[0].start,
                char_end=group[-1].end,
                heading_path=path,
            )
        )
    return passages


def chunk_span(pages: list[Page], spans: list[tuple[int, int, int]], cfg: ChunkConfig = CHUNK) -> list[Passage]:
    """Passages of one logical document given as (page, char_start, char_end)
    spans of the pages' clean text; offsets stay those of the whole page."""
    by_number = {p.number: p for p in pages}
    starts = {number: start for number, start, _ in spans}
    parts = [Page(number, by_number[number].text, by_number[number].clean[start:end]) for number, start, end in spans]
    passages = chunk_pages(parts, cfg)
    for p in passages:
        p.char_start += starts[p.page_start]
        p.char_end += starts[p.page_end]
    return passages


def windows(text: str, cfg: ChunkConfig = CHUNK) -> list[str]:
    """A passage cut into runs of whole sentences of at most `window_words`
    words (a longer sentence is cut by words), at most `max_windows` of them.
    Each is embedded on its own, so a question that one sentence answers is
    matched by that sentence, not by the average of the passage."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in _SENTENCE_BREAK.split(text):
        words = sentence.split()
        while len(words) > cfg.window_words:
            if current:
                out.append(" ".join(current))
                current, size = [], 0
            out.append(" ".join(words[:cfg.window_words]))
            words = words[cfg.window_words:]
        if current and size + len(words) > cfg.window_words:
            out.append(" ".join(current))
            current, size = [], 0
        if words:
            current.append(" ".join(words))
            size += len(words)
    if current:
        out.append(" ".join(current))
    return out[:cfg.max_windows]
