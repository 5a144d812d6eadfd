"""Results as a table to take along: CSV (UTF-8 with a byte-order mark, so
a spreadsheet opens "Fisksätraskolan" as written) with the citation columns
of every result (file, pages, date, organ, §, link), and the same rows as
JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable

from sok.records import Answer, Hit

FORMATS = ("text", "json", "csv")
CITATION = ["fil", "sida_fran", "sida_till", "datum", "organ", "paragraf", "lank"]


def link(path: str, page: int) -> str:
    return f"{Path(path).resolve().as_uri()}#page={page}"


def hit_rows(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    return [{"nr": n, "titel": h.title, "typ": h.doc_type, "utdrag": h.snippet, "status": h.status.label() if h.status else "",
             "fil": h.file, "sida_fran": h.page_start, "sida_till": h.page_end, "datum": h.date, "organ": h.organ,
             "paragraf": h.item, "lank": link(h.path, h.page_start)} for n, h in enumerate(hits, start=1)]


def answer_rows(answer: Answer) -> list[dict[str, Any]]:
    sources = {s.number: s for s in answer.sources}
    rows = []
    for s in answer.sentences:
        src = sources[s.citations[0]] if s.citations else None
        rows.append({"datum_rubrik": s.date, "roll": s.role, "rad": s.text,
                     "kallor": " ".join(f"[{n}]" for n in s.citations), "titel": src.title if src else None,
                     "fil": src.file if src else None, "sida_fran": src.page_start if src else None,
                     "sida_till": src.page_end if src else None, "datum": src.date if src else None,
                     "organ": src.organ if src else None, "paragraf": None,
                     "lank": link(src.path, src.page_start) if src else None})
    return rows


def citation_rows(entries: Iterable[Any], extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of anything with file, path, page_start, page_end, date, organ, item (a case's or a watch's entries)."""
    return [{**{k: getattr(e, k, None) for k in extra}, "fil": e.file, "sida_fran": e.page_start, "sida_till": e.page_end,
             "datum": e.date, "organ": e.organ, "paragraf": getattr(e, "item", None), "lank": link(e.path, e.page_start)}
            for e in entries]


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """`rows` as CSV or JSON text (CSV with a byte-order mark for spreadsheets)."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    out = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row)) or CITATION
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
