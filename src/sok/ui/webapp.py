"""Pure helpers behind the browser app (app.py): URL state, filters, search
adapters and HTML fragments. Kept free of Streamlit so they can be tested
directly and so app.py stays a thin layer of widgets.

Every piece of document text that ends up in HTML passes through `esc`:
records are untrusted input, and a protokoll quoting `<script>` or Markdown
must show as text, never run or render."""

from __future__ import annotations

import html
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode

import numpy as np

from sok.query.timeline import meeting_date
from sok.records import Filters, Hit, pages_label

VIEWS = {"sok": "Sök och fråga", "arende": "Ärende", "ledamot": "Ledamot och parti", "bevakningar": "Bevakningar",
         "index": "Om indexet"}
MODES = {"sok": "Sök", "fraga": "Fråga"}
UNKNOWN = "okänt"
SHOWN_HITS = 20  # cards on the result page
DEPTH = 100  # candidates behind facets and the chart, as in `sok timeline`
FILE_ROUTE = "/fil"


# --- state in the URL -------------------------------------------------------------


@dataclass
class UiState:
    """Everything a link must carry to reproduce a search."""

    q: str = ""
    mode: str = "sok"  # key of MODES
    view: str = "sok"  # key of VIEWS
    organ: list[str] = field(default_factory=list)
    doc_type: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    case: str = ""
    decisions: bool = False
    person: str = ""  # only §§ where this member took a position (Filters.person)
    party: str = ""


def _first(params: Mapping[str, list[str]], key: str) -> str:
    values = params.get(key) or []
    return values[-1].strip() if values else ""


def _year(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) == 4 else None


_QUESTION_WORDS = frozenset("vad vem vems vilka vilken vilket när var varför hur finns har hade kan får ska skulle "
                            "är var blir blev kommer gick what who which when where why how does did is are was "
                            "were can will has have".split())


def looks_like_question(text: str) -> bool:
    """A question ("Vad rapporterades om SIP?") rather than search words
    ("SIP vårdcentral"): the app then answers (Fråga) unless the user picked Sök."""
    words = text.strip().split()
    return bool(words) and (text.strip().endswith("?") or words[0].casefold() in _QUESTION_WORDS)


def mode_for(query: str) -> str:
    return "fraga" if looks_like_question(query) else "sok"


def from_params(params: Mapping[str, list[str]]) -> UiState:
    """Read the URL leniently: unknown values fall back to defaults, so a
    hand-edited or old link still opens a working page. Without a mode, a
    question opens as Fråga and search words as Sök."""
    mode, view = _first(params, "lage"), _first(params, "vy")
    return UiState(
        q=_first(params, "q"),
        mode=mode if mode in MODES else mode_for(_first(params, "q")),
        view=view if view in VIEWS else "sok",
        organ=[v for v in params.get("organ", []) if v],
        doc_type=[v for v in params.get("typ", []) if v],
        year_from=_year(_first(params, "fran")),
        year_to=_year(_first(params, "till")),
        case=_first(params, "arende"),
        decisions=_first(params, "beslut") in ("1", "ja", "true"),
        person=_first(params, "ledamot"),
        party=_first(params, "parti"),
    )


def to_params(state: UiState) -> dict[str, str | list[str]]:
    """Only what differs from the defaults, so links stay short."""
    out: dict[str, str | list[str]] = {}
    if state.view != "sok":
        out["vy"] = state.view
    if state.q:
        out["q"] = state.q
    if state.mode != "sok":
        out["lage"] = state.mode
    if state.organ:
        out["organ"] = list(state.organ)
    if state.doc_type:
        out["typ"] = list(state.doc_type)
    if state.year_from is not None:
        out["fran"] = str(state.year_from)
    if state.year_to is not None:
        out["till"] = str(state.year_to)
    if state.case:
        out["arende"] = state.case
    if state.decisions:
        out["beslut"] = "1"
    if state.person:
        out["ledamot"] = state.person
    if state.party:
        out["parti"] = state.party
    return out


def link(state: UiState) -> str:
    """A relative link (query string only) that opens `state`."""
    return "?" + urlencode(to_params(state), doseq=True)


def to_filters(state: UiState) -> Filters:
    return Filters(
        organ=list(state.organ),
        doc_type=list(state.doc_type),
        date_from=f"{state.year_from}-01-01" if state.year_from else None,
        date_to=f"{state.year_to}-12-31" if state.year_to else None,
        case_number=state.case or None,
        decisions_only=state.decisions,
        person=state.person or None,
        party=state.party or None,
    )


# --- engine: searcher shared by all sessions ----------------------------------------


class QueryVectorCache:
    """Streamlit reruns the whole script on every click; remembering recent
    query vectors makes those reruns cost no model time."""

    def __init__(self, inner: Any, size: int = 256) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self._cached: Callable[[str], np.ndarray] = lru_cache(maxsize=size)(inner.embed_query)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._cached(text)


def index_key(index_dir: Path) -> tuple[str, int, int]:
    """Identity of the index on disk: a folder deleted and rebuilt gets a new
    sok.sqlite (new inode), so the app loads it afresh instead of reading a
    deleted file. In-place updates are picked up by Searcher.refresh()."""
    path = Path(index_dir).resolve() / "sok.sqlite"
    st = path.stat()
    return str(path.parent), st.st_dev, st.st_ino


@dataclass
class Engine:
    """The loaded searcher, shared by every session, and the lock that lets
    one session at a time move it to a newer index generation. Searches,
    answers and case lookups run side by side without it: tantivy, FAISS,
    SQLite (serialised mode) and the query embedders release the GIL and keep
    no state per call, and a reload swaps the indexes in one assignment, so a
    search in flight finishes on the generation it started with; one heavy
    query no longer holds up every other session (BENCHMARKS.md, "Concurrent
    sessions")."""

    searcher: Any
    index_dir: Path
    lock: threading.RLock = field(default_factory=threading.RLock)


# --- search and answer --------------------------------------------------------------


@dataclass
class Results:
    hits: list[Hit]  # best first, filters applied
    relevant: list[Hit]  # those that clear the calibrated cut-off (as `sok search --cutoff`): listed first, charted, counted
    facets: dict[str, list[tuple[str, int]]]  # over the relevant hits, so sidebar, chart and list agree

    @property
    def less_relevant(self) -> list[Hit]:
        keep = {h.passage_id for h in self.relevant}
        return [h for h in self.hits if h.passage_id not in keep]


def run_search(searcher: Any, query: str, filters: Filters, depth: int = DEPTH) -> Results:
    """One retrieval per page view: the core's `query()` filters inside
    retrieval and collapses near-duplicates; the cut-off of `sok search
    --cutoff` splits the relevant hits from the rest, and every count on
    the page is over the relevant ones."""
    from sok.query.search import facets

    result = searcher.query(query, k=depth, depth=depth, filters=filters if filters.active else None)
    hits = list(result.hits)
    relevant = searcher.relevant(hits)
    return Results(hits, relevant, facets((h.organ, h.doc_type, h.date) for h in relevant))


def run_ask(searcher: Any, question: str, filters: Filters) -> Any:
    """The cited answer, exactly as `sok ask` (with the page's filters)."""
    from sok.query.answer import ask

    return ask(searcher, question, llm_url=os.environ.get("SOK_LLM_URL"), llm_model=os.environ.get("SOK_LLM_MODEL"),
               filters=filters if filters.active else None)


def per_date(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """Rows for the chart: relevant passages per meeting date and organ,
    counted as `sok timeline` counts (each once; an undated report under the
    first meeting it names), so the bars add up to the list and the sidebar."""
    counts = Counter((meeting_date(h), h.organ or UNKNOWN) for h in hits)
    rows = [{"datum": d, "organ": label(o), "antal": n} for (d, o), n in counts.items()]
    return sorted(rows, key=lambda r: (r["datum"] == UNKNOWN, r["datum"], r["organ"]))


def per_organ(hits: Iterable[Hit]) -> str:
    """Relevant passages per organ, most first, as a small escaped table."""
    counts = Counter(label(h.organ) for h in hits).most_common()
    rows = "".join(f"<tr><td>{esc(o)}</td><td class='sok-num'>{n}</td></tr>" for o, n in counts)
    return f"<table class='sok-table sok-small'>{rows}</table>" if rows else ""


# --- text and HTML ------------------------------------------------------------------


def esc(value: object) -> str:
    """HTML-escape anything shown from the records (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$&:])")


def plain(value: object) -> str:
    """Text of our own (an error message with a path in it) for Streamlit's
    Markdown elements (st.error, st.warning): every Markdown and HTML
    character backslash-escaped, so it cannot become markup or an image.
    Streamlit still turns a bare URL into a link, so text a visitor controls
    (the URL's parameters) goes through `notice` instead."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if value is None else str(value))


def notice(text: str) -> str:
    """An info box as escaped HTML for st.html, which neither parses Markdown
    nor links URLs: `?arende=![x](http://...) [Logga in](http://evil...)`
    is shown as those characters, no image fetched and no link made."""
    return f"<div class='sok-notice' role='status'>{esc(text)}</div>"


def label(name: str | None) -> str:
    """Organ and type names are stored in lower case; show them capitalised."""
    name = name or UNKNOWN
    return name[:1].upper() + name[1:]


def file_url(file_id: int | None, page: int, passage_id: int | None = None) -> str | None:
    """The app's own route for an indexed file, opened at `page`; with a
    passage, its cited-place view (the passage marked on its pages)."""
    if file_id is None:
        return None
    if passage_id is not None:
        return f"{FILE_ROUTE}/{int(file_id)}/stalle/{int(passage_id)}#page={int(page)}"
    return f"{FILE_ROUTE}/{int(file_id)}#page={int(page)}"


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` escaped, with the spans (offsets into the raw text) in <mark>."""
    out, pos = [], 0
    for a, b in sorted(spans):
        if a < pos or b <= a:
            continue
        out += [esc(text[pos:a]), "<mark>", esc(text[a:b]), "</mark>"]
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def meta_parts(organ: str | None, doc_type: str | None, date: str | None, start: int, end: int,
               item: str | None = None) -> list[str]:
    parts = [label(organ) if organ else None, doc_type, date or "utan datum", pages_label(start, end), item]
    return [p for p in parts if p]


def open_link(url: str | None, page: int) -> str:
    if not url:
        return ""
    return f'<a class="sok-open" href="{esc(url)}" target="_blank" rel="noopener">Öppna sidan {int(page)}</a>'


def also_in_html(also_in: list[dict], urls: list[str | None]) -> str:
    """The near-duplicates collapsed into a hit ("finns även i"), each with its own link."""
    if not also_in:
        return ""
    items = []
    for o, url in zip(also_in, urls):
        start, end = o.get("page_start", 1), o.get("page_end", 1)
        where = ", ".join(p for p in [o.get("date"), pages_label(start, end)] if p)
        title = esc(o.get("title") or o.get("file"))
        name = f'<a href="{esc(url)}" target="_blank" rel="noopener">{title}</a>' if url else title
        items.append(f"<li>{name} <span class='sok-dim'>({esc(where)}, {esc(o.get('file'))})</span></li>")
    return f"<div class='sok-also'>Finns även i:<ul>{''.join(items)}</ul></div>"


def case_links(numbers: Iterable[str]) -> str:
    """Case numbers as links to the case view (a new page load keeps it simple)."""
    links = []
    for n in numbers:
        target = UiState(view="arende", case=n)
        links.append(f'<a class="sok-case" href="{esc(link(target))}" target="_self">{esc(n)}</a>')
    return f"<div class='sok-cases'>Ärende: {' '.join(links)}</div>" if links else ""


def hit_card(n: int, hit: Hit, url: str | None, also_urls: list[str | None] | None = None, weak: bool = False) -> str:
    """One result as HTML: title, organ, type, meeting date, pages, § and the
    snippet with the query's words marked; every record string escaped. A
    hit below the cut-off (`weak`) says so."""
    weak_mark = "<span class='sok-weak'>svag träff</span>" if weak else ""
    decision = "<span class='sok-badge'>beslut</span>" if hit.is_decision else ""
    if hit.source_note:
        decision += f"<span class='sok-weak'>{esc(hit.source_note)}</span>"
    meta = " · ".join(esc(p) for p in meta_parts(hit.organ, hit.doc_type, hit.date, hit.page_start, hit.page_end,
                                                  hit.item))
    heading = " › ".join(hit.heading_path[-2:]) if hit.heading_path else ""
    return (
        f"<div class='sok-card' data-passage='{int(hit.passage_id)}'>"
        f"<div class='sok-head'><span class='sok-n'>{n}</span><span class='sok-title'>{esc(hit.title)}</span>"
        f"{decision}{weak_mark}</div>"
        f"<div class='sok-meta'>{meta}</div>"
        + (f"<div class='sok-heading'>{esc(heading)}</div>" if heading else "")
        + (status_html(hit.item, hit.status) if hit.status else "")
        + f"<div class='sok-snippet'>{highlight(hit.snippet, hit.highlights)}</div>"
        + also_in_html(hit.also_in, also_urls or [None] * len(hit.also_in))
        + case_links(hit.case_numbers[:3])
        + f"<div class='sok-foot'>{open_link(url, hit.page_start)}<span class='sok-file'>{esc(hit.file)}</span></div>"
        "</div>"
    )


def answer_html(answer: Any, urls: Mapping[int, str | None], no_answer_text: str) -> str:
    """The answer grouped by meeting date; each citation links to its page."""
    if answer.no_answer:
        note = f"<div class='sok-dim'>{esc(answer.note)}</div>" if answer.note else ""
        return f"<div class='sok-answer sok-noanswer'><p>{esc(no_answer_text)}</p>{note}</div>"
    labels = {s.number: s.label for s in answer.sources}
    blocks: list[str] = []
    items: list[str] = []
    current: object = object()

    def close() -> None:
        if items:
            blocks.append("<ul>" + "".join(items) + "</ul>")
            items.clear()

    for s in answer.sentences:
        if s.date != current:
            close()
            blocks.append(f"<div class='sok-date'>{esc(s.date or 'Utan datum')}</div>")
            current = s.date
        cites = "".join(
            f'<a class="sok-cite" href="{esc(urls.get(c) or "#")}" target="_blank" rel="noopener" '
            f'title="{esc(labels.get(c, ""))}">[{int(c)}]</a>'
            for c in s.citations
        )
        role = f"<b>{esc(s.role)}:</b> " if s.role else ""
        items.append(f"<li>{role}{esc(s.text)} {cites}</li>")
    close()
    note = f"<div class='sok-dim'>{esc(answer.note)}</div>" if answer.note else ""
    return f"<div class='sok-answer'>{''.join(blocks)}{note}</div>"


def source_card(source: Any, excerpt: tuple[str, list[tuple[int, int]]], url: str | None) -> str:
    """A cited source: number, title, where it is, and the cited passage."""
    text, spans = excerpt
    meta = " · ".join(esc(p) for p in [*meta_parts(source.organ, None, source.date, source.page_start, source.page_end),
                                        *([source.where] if source.where else [])])
    return (
        f"<div class='sok-card' id='kalla-{int(source.number)}'>"
        f"<div class='sok-head'><span class='sok-n'>[{int(source.number)}]</span>"
        f"<span class='sok-title'>{esc(source.title)}</span></div>"
        f"<div class='sok-meta'>{meta}</div>"
        f"<div class='sok-snippet'>{highlight(text, spans)}</div>"
        f"<div class='sok-foot'>{open_link(url, source.page_start)}<span class='sok-file'>{esc(source.file)}</span></div>"
        "</div>"
    )


def context_html(rows: list[dict[str, Any]]) -> str:
    """Neighbouring passages, the hit itself marked."""
    parts = []
    for r in rows:
        cls = "sok-ctx sok-ctx-current" if r["current"] else "sok-ctx"
        parts.append(f"<div class='{cls}'><div class='sok-dim'>{esc(pages_label(r['page_start'], r['page_end']))}"
                     f"</div><div class='sok-pre'>{esc(r['text'])}</div></div>")
    return "".join(parts)


def case_table(entries: list[Any], urls: list[str | None]) -> str:
    """The case view: every document and § that handles the case, oldest first."""
    rows = []
    for e, url in zip(entries, urls):
        item = " ".join(p for p in [getattr(e, "item", None), getattr(e, "item_title", None)] if p)
        decision = getattr(e, "decision", None)
        rows.append(
            "<tr>"
            f"<td class='sok-nowrap'>{esc(e.date or 'utan datum')}</td>"
            f"<td>{esc(label(e.organ) if e.organ else '')}</td>"
            f"<td>{esc(e.doc_type or '')}</td>"
            f"<td><div class='sok-title'>{esc(e.title)}</div>"
            + (f"<div class='sok-meta'>{esc(item)}</div>" if item else "")
            + (f"<div class='sok-decision'><b>Beslut:</b> {esc(decision)}</div>" if decision else "")
            + f"<div class='sok-file'>{esc(e.file)}</div></td>"
            f"<td class='sok-nowrap'>{open_link(url, e.page_start)}</td>"
            "</tr>"
        )
    head = "<tr><th>Datum</th><th>Organ</th><th>Typ</th><th>Handling</th><th></th></tr>"
    return f"<table class='sok-table'>{head}{''.join(rows)}</table>"


def person_link(member: str) -> str:
    """A member as written on a hit ("Håkan Skaneland (V)") linked to their record."""
    name = member.split(" (")[0]
    return f'<a class="sok-case" href="{esc(link(UiState(view="ledamot", person=name)))}" target="_self">{esc(member)}</a>'


def status_html(item: str | None, status: Any) -> str:
    """A hit's status line, the members who reserved linked to their record."""
    parts = [esc(status.outcome)] if status.outcome else []
    parts += ["omröstning"] if status.vote else []
    if status.reserved:
        parts.append("reservation: " + ", ".join(person_link(m) for m in status.reserved))
    return f"<div class='sok-status'>Status för {esc(item or '§')}: {' · '.join(parts)}</div>"


def record_table(entries: list[Any], urls: list[str | None]) -> str:
    """The member's or party's view: every yrkande, vote, reservation and
    protokollsanteckning, oldest first, each with the § and a link to the cited place."""
    rows = []
    for e, url in zip(entries, urls):
        item = " ".join(p for p in [e.item, e.item_title] if p)
        rows.append(
            "<tr>"
            f"<td class='sok-nowrap'>{esc(e.date or 'utan datum')}</td>"
            f"<td>{esc(label(e.organ) if e.organ else '')}</td>"
            f"<td><div class='sok-title'>{esc(e.label())}</div>"
            + (f"<div class='sok-meta'>{esc(item)}</div>" if item else "")
            + f"<div>{esc(e.text[:400])}</div>"
            + (f"<div class='sok-meta'>Med: {esc(', '.join(e.with_))}</div>" if e.with_ and e.kind != "röst" else "")
            + f"<div class='sok-file'>{esc(e.file)}</div></td>"
            f"<td class='sok-nowrap'>{open_link(url, e.page_start)}</td>"
            "</tr>"
        )
    head = "<tr><th>Datum</th><th>Organ</th><th>Vad</th><th></th></tr>"
    return f"<table class='sok-table'>{head}{''.join(rows)}</table>"


def watch_hits_html(hits: list[Any], urls: list[str | None]) -> str:
    """A watch's hits: title, where, snippet and the cited page."""
    rows = []
    for h, url in zip(hits, urls):
        where = " · ".join(esc(p) for p in (label(h.organ) if h.organ else None, h.date, h.item, f"s. {h.page_start}") if p)
        rows.append(f"<div class='sok-card'><div class='sok-head'><span class='sok-title'>{esc(h.title or h.file)}</span>"
                    f"<span class='sok-badge'>{esc(h.watch)}</span></div><div class='sok-meta'>{where}</div>"
                    f"<div class='sok-snippet'>{esc(h.snippet)}</div>"
                    f"<div class='sok-foot'>{open_link(url, h.page_start)}<span class='sok-file'>{esc(h.file)}</span></div></div>")
    return "".join(rows)


def party_vote_table(votes: list[Any]) -> str:
    """A party's votes, one row per omröstning: how many of its members voted how."""
    rows = "".join(
        "<tr>"
        f"<td class='sok-nowrap'>{esc(v.date or 'utan datum')}</td>"
        f"<td>{esc(' '.join(p for p in [v.item, v.item_title] if p))}</td>"
        f"<td class='sok-nowrap'>{esc(', '.join(f'{k} {n}' for k, n in v.counts.items()))}</td>"
        f"<td>{esc(v.text[:300])}<div class='sok-meta'>{esc('; '.join(v.members))}</div></td>"
        "</tr>" for v in votes)
    return ("<table class='sok-table'><tr><th>Datum</th><th>Paragraf</th><th>Partiets röster</th><th>Resultat</th></tr>"
            f"{rows}</table>")


CSS = """
<style>
[data-testid="stMainBlockContainer"]{padding-top:3rem}
.sok-card{line-height:1.45}
.sok-head{display:flex;gap:.5rem;align-items:baseline;flex-wrap:wrap}
.sok-n{color:#6b7280;font-weight:600;min-width:1.4rem}
.sok-title{font-weight:600;color:#111827}
.sok-meta,.sok-heading{color:#4b5563;font-size:.88rem;margin-top:.15rem}
.sok-heading{font-style:italic}
.sok-snippet{margin-top:.45rem}
.sok-snippet mark,.sok-ctx mark{background:#fde68a;padding:0 .1rem;border-radius:.15rem}
.sok-foot{display:flex;gap:.9rem;align-items:center;margin-top:.55rem;flex-wrap:wrap}
.sok-open{display:inline-block;padding:.2rem .65rem;border:1px solid #1d4ed8;border-radius:.4rem;color:#1d4ed8 !important;
  text-decoration:none !important;font-size:.88rem}
.sok-open:hover{background:#eff6ff}
.sok-notice{background:#eff6ff;color:#1e3a8a;border-radius:.5rem;padding:.8rem 1rem;overflow-wrap:anywhere}
.sok-file{color:#6b7280;font-size:.8rem;word-break:break-all}
.sok-dim{color:#6b7280;font-size:.85rem}
.sok-weak{font-size:.75rem;color:#92400e;background:#fef3c7;border-radius:.3rem;padding:0 .35rem}
.sok-badge{font-size:.75rem;color:#065f46;background:#d1fae5;border-radius:.3rem;padding:0 .35rem}
.sok-status{font-size:.8rem;color:#1e3a8a;margin:.15rem 0}
.sok-also{font-size:.85rem;color:#374151;margin-top:.4rem}
.sok-also ul{margin:.1rem 0 0 1.1rem;padding:0}
.sok-cases{font-size:.85rem;margin-top:.3rem}
.sok-case{margin-right:.4rem}
.sok-answer{border-left:4px solid #1d4ed8;background:#f8fafc;padding:.6rem 1rem;border-radius:.3rem;line-height:1.5}
.sok-answer ul{margin:.1rem 0 .5rem 1.1rem;padding:0}
.sok-date{font-weight:600;color:#1e3a8a;margin-top:.3rem}
.sok-cite{font-weight:600;text-decoration:none;margin-left:.1rem}
.sok-noanswer p{margin:0;font-weight:600}
.sok-ctx{border-left:3px solid #e5e7eb;padding:.2rem .6rem;margin:.3rem 0}
.sok-ctx-current{border-left-color:#1d4ed8;background:#f8fafc}
.sok-pre{white-space:pre-wrap;font-size:.88rem}
.sok-table{border-collapse:collapse;width:100%}
.sok-table th,.sok-table td{border-bottom:1px solid #e5e7eb;padding:.45rem .5rem;vertical-align:top;text-align:left}
.sok-nowrap{white-space:nowrap}
.sok-num{text-align:right}
.sok-small td{padding:.2rem .4rem;font-size:.88rem}
.sok-decision{font-size:.88rem;margin-top:.2rem}
</style>
"""
