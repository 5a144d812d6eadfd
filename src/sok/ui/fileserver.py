"""Serve indexed originals to the browser, so a citation opens the real
page. The app (app.py) mounts `routes()` on Streamlit's own server through
`st.App`, so links are same-origin and need no second port.

Only files the index knows can be served: a request names a file *id*, the
path comes from the store, symlinks are resolved, and the resolved file must
lie inside the folder it was indexed from. PDFs are sent as they are (the
browser's viewer honours `#page=N`); Markdown files are rendered as
documents and text files shown as they are, with one anchor per page
(`id="page=N"`), so the same link scrolls to the cited page.

A citation in the app opens `/fil/{id}/stalle/{passage}#page=N`, the cited
place: the pages of the passage with the passage itself marked (a PDF page
drawn by pdfium with the passage's lines outlined; a Markdown or text page
as indexed with the passage in <mark>), `#page=N` landing on the passage,
and a link on to the whole original."""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sok.config import default_index_dir
from sok.store import reader

SERVED = {".pdf": "application/pdf", ".md": "text", ".markdown": "text", ".txt": "text"}
NOT_FOUND = "Filen finns inte i indexet eller ligger utanför de indexerade mapparna."
CHANGED = ("Filen har ändrats sedan den indexerades, så citatens sidor och text kan vara fel. "
           "Kör  sok index  igen så att indexet följer filen.")
WITHHELD = ("Originalet innehåller personnummer och visas därför som sin indexerade text, med personnumren "
            "dolda. Originalfilen finns hos den som förvaltar handlingarna.")
_TEXT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
PLACE_SCALE = 1.6  # PDF points to pixels: an A4 page ~950 px wide, legible without zoom
_MIN_LINE = 12  # shorter lines ("§ 4", "Beslut") occur all over a page: marking them would mark the wrong place


@dataclass
class IndexedFile:
    id: int
    path: Path  # resolved, inside root
    relpath: str
    title: str
    kind: str  # "pdf", "md" (rendered as a document) or "text" (shown as it is)
    sha256: str  # of the version that was indexed


def index_dir() -> Path:
    """Read at request time, like the app, so both follow SOK_INDEX."""
    return default_index_dir()


def inside(path: str | Path, root: str | Path) -> Path | None:
    """`path` with symlinks resolved, if it is an existing file of a served
    type inside `root` (also resolved); None otherwise."""
    try:
        real = Path(path).resolve(strict=True)
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not real.is_relative_to(base) or real == base or not real.is_file():
        return None
    if real.suffix.lower() not in SERVED:
        return None
    return real


def lookup(index: Path, file_id: int) -> IndexedFile | None:
    """The file with this id, if the index has it and it may be served."""
    row = reader.file_row(index, file_id)
    if row is None:
        return None
    real = inside(row[1], row[2])
    if real is None:
        return None
    kind = {".pdf": "pdf", ".md": "md", ".markdown": "md"}.get(real.suffix.lower(), "text")
    return IndexedFile(id=row[0], path=real, relpath=row[3], title=row[4] or "", kind=kind, sha256=row[5])


def text_page(f: IndexedFile, shown: bool, pages: list[tuple[int, str]] | None = None, note: str = "") -> str:
    """A Markdown or text file as HTML, one section per page, so `#page=N`
    works for them as for PDFs (Markdown rendered by `page_body`, text as it is).
    Personnummer are masked as in the index, unless it `shown`s them. With
    `pages` ((number, text) as indexed, already masked), those are shown
    instead of the file, under `note`."""
    from sok.ingest.extract import read_text_file
    from sok.ingest.personal import mask

    if pages is None:
        pages = [(page.number, page.text if shown else mask(page.text)[0]) for page in read_text_file(f.path)]
    sections = []
    for number, text in pages:
        sections.append(f'<section id="page={number}"><h2>Sida {number}</h2>{page_body(text, [], f.kind)}</section>')
    title = html.escape(f.title or f.relpath)
    return (
        "<!doctype html><html lang='sv'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111827}"
        "pre{white-space:pre-wrap;font-family:inherit;line-height:1.5}" + _DOC_CSS +
        "h2{font-size:1rem;color:#6b7280;border-top:1px solid #e5e7eb;padding-top:.8rem}"
        "section:target{background:#fefce8;outline:2px solid #fde68a;border-radius:.4rem;padding:0 .6rem}"
        "</style></head><body>"
        f"<h1>{title}</h1><p style='color:#6b7280'>{html.escape(f.relpath)}</p>"
        + (f"<p role='note' style='background:#eff6ff;padding:.6rem .8rem;border-radius:.4rem'>{html.escape(note)}</p>"
           if note else "")
        + f"{''.join(sections)}</body></html>"
    )


_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: where a mark opens and closes
_DOC_CSS = (".sok-doc{line-height:1.55}.sok-doc h1,.sok-doc h2,.sok-doc h3,.sok-doc h4{color:#111827;border:0;padding:0}"
            ".sok-doc table{border-collapse:collapse}.sok-doc td,.sok-doc th{border:1px solid #e5e7eb;padding:.2rem .5rem}")


def page_body(text: str, spans: list[tuple[int, int]], kind: str) -> str:
    """One page as HTML with `spans` (offsets into `text`) in <mark>.

    A Markdown page is rendered as the document it is (headings, emphasis,
    lists, tables) so the reader sees a page, not markup; a text page stays
    preformatted. Records are untrusted: raw HTML in them is shown as text,
    and images and links stay literal characters, so a page never fetches or
    points anywhere. The marks go into the source as private-use characters
    before rendering and become <mark> after it, closed and reopened around
    every tag, so a mark over "**Svar:** ..." nests properly."""
    from markdown_it import MarkdownIt

    from sok.ui.webapp import highlight

    if kind != "md":
        return f"<pre>{highlight(text, spans)}</pre>"
    clean = text.replace(_OPEN, "").replace(_CLOSE, "")
    for a, b in sorted(spans, reverse=True):  # from the end, so earlier offsets still hold
        clean = clean[:a] + _OPEN + clean[a:b] + _CLOSE + clean[b:]
    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["image", "link", "autolink"]).render(clean)
    out, inside = [], False
    for piece in re.split(r"(<[^>]*>)", rendered):
        if piece.startswith("<"):
            out.append(f"</mark>{piece}<mark>" if inside else piece)
            continue
        for ch in re.split(f"([{_OPEN}{_CLOSE}])", piece):
            if ch == _OPEN:
                out.append("<mark>")
                inside = True
            elif ch == _CLOSE:
                out.append("</mark>")
                inside = False
            else:
                out.append(ch)
    body = re.sub(r"<mark>(\s*)</mark>", r"\1", "".join(out))
    return f"<div class='sok-doc'>{body}</div>"


def passage_lines(text: str) -> list[str]:
    """The passage's lines worth looking for on its page, in order."""
    return [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= _MIN_LINE]


def _squeezed(text: str) -> tuple[str, list[int]]:
    """`text` without Markdown's emphasis and heading marks and with each run
    of whitespace as one space (what cleaning does to a line before it is
    indexed), and the position in `text` of each character kept."""
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch in "*_#`\\":
            continue
        if ch.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            where.append(i - 1)
            space = False
        out.append(ch)
        where.append(i)
    return "".join(out), where


def text_spans(page: str, lines: list[str]) -> list[tuple[int, int]]:
    """Where the passage's lines are in the page text as indexed: each found
    after the one before (so a line repeated elsewhere on the page is not
    marked), Markdown marks and spacing aside."""
    flat, where = _squeezed(page)
    spans, pos = [], 0
    for line in lines:
        needle = _squeezed(line)[0]
        at = flat.find(needle, pos) if needle else -1
        if at >= 0:
            spans.append((where[at], where[at + len(needle) - 1] + 1))
            pos = at + len(needle)
    return spans


def pdf_page_marked(path: Path, number: int, lines: list[str]) -> tuple[bytes, int]:
    """(PNG of the PDF page with the passage's lines outlined, lines found).
    pdfium finds each line in the page's own text layer (the one the index
    read), so the marks sit on the words; a line the cleaning changed (a
    joined hyphenation, a repaired word) is simply not marked."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[number - 1]
        textpage = page.get_textpage()
        crop_left, _, _, crop_top = page.get_cropbox()  # what is drawn: text coordinates are in the media box
        boxes, found = [], 0
        for line in lines:
            hit = textpage.search(line, match_case=True).get_next()
            if not hit:
                continue
            found += 1
            for i in range(textpage.count_rects(hit[0], hit[1])):
                left, bottom, right, top = textpage.get_rect(i)
                boxes.append(((left - crop_left) * PLACE_SCALE, (crop_top - top) * PLACE_SCALE,
                              (right - crop_left) * PLACE_SCALE, (crop_top - bottom) * PLACE_SCALE))
        image = page.render(scale=PLACE_SCALE).to_pil().convert("RGBA")
    finally:
        pdf.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=(250, 204, 21, 110))
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue(), found


def place_page(f: IndexedFile, first: int, last: int, sections: list[str], marked: int, total: int,
               page_count: int = 0) -> str:
    """The cited-place view around already rendered page sections, with the
    neighbouring pages of the original one click away."""
    title = html.escape(f.title or f.relpath)
    pages = f"sida {first}" if first == last else f"sidorna {first}–{last}"
    if not total or marked == total:
        note = f"Det citerade stället är markerat ({pages})."
    elif marked:
        note = f"{marked} av {total} rader i det citerade stället är markerade ({pages}); resten gick inte att hitta i sidans text."
    else:
        note = f"Det citerade stället kunde inte markeras på {pages}: sidans text skiljer sig från den indexerade."
    return (
        "<!doctype html><html lang='sv'><head><meta charset='utf-8'>"
        f"<title>{title}, {pages}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#111827}"
        "pre{white-space:pre-wrap;font-family:inherit;line-height:1.5}"
        "mark{background:#fde047;padding:0 .1rem}" + _DOC_CSS +
        "h2{font-size:1rem;color:#6b7280;border-top:1px solid #e5e7eb;padding-top:.8rem}"
        "img{max-width:100%;border:1px solid #e5e7eb}"
        "a{color:#1d4ed8}"
        "</style></head><body>"
        f"<h1>{title}</h1><p style='color:#6b7280'>{html.escape(f.relpath)}</p>"
        f"<p role='note' style='background:#eff6ff;padding:.6rem .8rem;border-radius:.4rem'>{html.escape(note)} "
        f"<a href='/fil/{f.id}#page={first}'>Öppna hela originalet</a></p>"
        + "<nav style='display:flex;gap:1.5rem;margin:.6rem 0'>"
        + (f"<a href='/fil/{f.id}#page={first - 1}'>← Sida {first - 1}</a>" if first > 1 else "")
        + (f"<a href='/fil/{f.id}#page={last + 1}'>Sida {last + 1} →</a>" if last < page_count else "")
        + "</nav>"
        f"{''.join(sections)}</body></html>"
    )


def place(request: Any) -> Any:
    """GET /fil/{file_id}/stalle/{passage_id}: the cited place, marked."""
    from starlette.responses import HTMLResponse, PlainTextResponse

    index = index_dir()
    f = lookup(index, request.path_params["file_id"])
    where = reader.passage_place(index, request.path_params["passage_id"])
    if f is None or where is None or where[0] != f.id:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    refused = _changed(f)
    if refused is not None:
        return refused
    _, first, last, text = where
    lines = passage_lines(text)
    shown = reader.read_meta(index, "personal_data") == "shown"
    indexed = {number: (page_text, personal) for number, page_text, personal in reader.file_pages(index, f.id)}
    as_text = f.kind != "pdf" or (not shown and any(personal for _, personal in indexed.values()))
    # The link's #page=N lands on the passage itself (its first mark, or its
    # first page drawn), not on the top of a long page: no script needed.
    sections, marked, anchor = [], 0, f'id="page={first}"'
    for number in range(first, last + 1):
        if as_text:  # the page as indexed (masked where the index masks), the passage in <mark>
            page_text = indexed.get(number, ("", 0))[0]
            spans = text_spans(page_text, lines)
            marked += len(spans)
            body = page_body(page_text, spans, f.kind)
            if spans and anchor:
                body, anchor = body.replace("<mark>", f"<mark {anchor}>", 1), ""
        else:
            png, found = pdf_page_marked(f.path, number, lines)
            marked += found
            body = (f"<img {anchor} alt='Sida {number} med det citerade stället markerat' "
                    f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
            anchor = ""
        sections.append(f'<section data-page="{number}"><h2>Sida {number}</h2>{body}</section>')
    if anchor:  # nothing marked: the passage's first page
        sections[0] = sections[0].replace("<section ", f"<section {anchor} ", 1)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "Content-Security-Policy": _TEXT_CSP}
    page = place_page(f, first, last, sections, min(marked, len(lines)), len(lines), max(indexed, default=last))
    return HTMLResponse(page, headers=headers)


def _changed(f: IndexedFile) -> Any:
    """A 404 or 409 response when the file is gone or no longer the version
    that was indexed (a citation must never point into a different one), else None."""
    from starlette.responses import PlainTextResponse

    from sok.ingest.extract import sha256_file

    try:
        unchanged = sha256_file(f.path) == f.sha256
    except OSError:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    return None if unchanged else PlainTextResponse(CHANGED, status_code=409)


def serve(request: Any) -> Any:
    """GET /fil/{file_id}: the original PDF, or a page view of a text file;
    only the version that was indexed (its sha256), so a cited page is the
    page that was read. A PDF with personnummer is shown as its indexed
    (masked) text, page by page, unless the index was built to show them."""
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse

    f = lookup(index_dir(), request.path_params["file_id"])
    if f is None:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    refused = _changed(f)
    if refused is not None:
        return refused
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    text_headers = {**headers, "Content-Security-Policy": _TEXT_CSP}
    shown = reader.read_meta(index_dir(), "personal_data") == "shown"
    if f.kind == "pdf" and not shown:
        pages = reader.file_pages(index_dir(), f.id)
        if any(n for _, _, n in pages):  # the original would show them: its indexed text, masked, instead
            return HTMLResponse(text_page(f, shown, [(number, text) for number, text, _ in pages], WITHHELD),
                                headers=text_headers)
    if f.kind == "pdf":
        return FileResponse(f.path, media_type="application/pdf", headers=headers,
                            filename=f.path.name, content_disposition_type="inline")
    return HTMLResponse(text_page(f, shown), headers=text_headers)


def feed(request: Any) -> Any:
    """GET /flode.atom (every watch) or /flode/{name}.atom: the watches' hits
    as Atom, each linked to its page in the app's file route."""
    from starlette.responses import PlainTextResponse, Response

    from sok.index import Index
    from sok.store.watchlist import WatchError

    name = request.path_params.get("name")
    base = str(request.base_url).rstrip("/")
    with reader.readonly(index_dir()) as db:
        ids = reader.file_ids(db)
    try:
        xml = Index(index_dir()).watch_feed(name, links=lambda h: f"{base}/fil/{ids[h.path]}#page={h.page_start}"
                                            if h.path in ids else f"{base}/")
    except WatchError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    return Response(xml, media_type="application/atom+xml; charset=utf-8", headers={"Cache-Control": "no-cache"})


def routes() -> list[Any]:
    """Starlette routes for st.App(routes=...). `int` in the path means a
    crafted path (../../etc/passwd) never even reaches the lookup."""
    from starlette.routing import Route

    return [Route("/fil/{file_id:int}", serve, methods=["GET", "HEAD"]),
            Route("/fil/{file_id:int}/stalle/{passage_id:int}", place, methods=["GET", "HEAD"]),
            Route("/flode.atom", feed, methods=["GET", "HEAD"]),
            Route("/flode/{name}.atom", feed, methods=["GET", "HEAD"])]
