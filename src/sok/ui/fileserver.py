"""Serve indexed originals to the browser, so a citation opens the real
page. The app (app.py) mounts `routes()` on Streamlit's own server through
`st.App`, so links are same-origin and need no second port.

Only files the index knows can be served: a request names a file *id*, the
path comes from the store, symlinks are resolved, and the resolved file must
lie inside the folder it was indexed from. PDFs are sent as they are (the
browser's viewer honours `#page=N`); Markdown and text files are shown as
escaped HTML with one anchor per page (`id="page=N"`), so the same link
scrolls to the cited page."""

from __future__ import annotations

import html
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
_TEXT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@dataclass
class IndexedFile:
    id: int
    path: Path  # resolved, inside root
    relpath: str
    title: str
    kind: str  # "pdf" or "text"
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
    kind = "pdf" if SERVED[real.suffix.lower()] == "application/pdf" else "text"
    return IndexedFile(id=row[0], path=real, relpath=row[3], title=row[4] or "", kind=kind, sha256=row[5])


def text_page(f: IndexedFile, shown: bool, pages: list[tuple[int, str]] | None = None, note: str = "") -> str:
    """A Markdown or text file as escaped HTML, one section per page, so
    `#page=N` works for them as for PDFs; nothing in the file is interpreted.
    Personnummer are masked as in the index, unless it `shown`s them. With
    `pages` ((number, text) as indexed, already masked), those are shown
    instead of the file, under `note`."""
    from sok.ingest.extract import read_text_file
    from sok.ingest.personal import mask

    if pages is None:
        pages = [(page.number, page.text if shown else mask(page.text)[0]) for page in read_text_file(f.path)]
    sections = []
    for number, text in pages:
        sections.append(
            f'<section id="page={number}"><h2>Sida {number}</h2>'
            f"<pre>{html.escape(text)}</pre></section>"
        )
    title = html.escape(f.title or f.relpath)
    return (
        "<!doctype html><html lang='sv'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111827}"
        "pre{white-space:pre-wrap;font-family:inherit;line-height:1.5}"
        "h2{font-size:1rem;color:#6b7280;border-top:1px solid #e5e7eb;padding-top:.8rem}"
        "section:target{background:#fefce8;outline:2px solid #fde68a;border-radius:.4rem;padding:0 .6rem}"
        "</style></head><body>"
        f"<h1>{title}</h1><p style='color:#6b7280'>{html.escape(f.relpath)}</p>"
        + (f"<p role='note' style='background:#eff6ff;padding:.6rem .8rem;border-radius:.4rem'>{html.escape(note)}</p>"
           if note else "")
        + f"{''.join(sections)}</body></html>"
    )


def serve(request: Any) -> Any:
    """GET /fil/{file_id}: the original PDF, or a page view of a text file;
    only the version that was indexed (its sha256), so a cited page is the
    page that was read. A PDF with personnummer is shown as its indexed
    (masked) text, page by page, unless the index was built to show them."""
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse

    from sok.ingest.extract import sha256_file

    f = lookup(index_dir(), request.path_params["file_id"])
    if f is None:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    try:
        unchanged = sha256_file(f.path) == f.sha256
    except OSError:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    if not unchanged:  # a citation must never point into a different version
        return PlainTextResponse(CHANGED, status_code=409)
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


def routes() -> list[Any]:
    """Starlette routes for st.App(routes=...). `int` in the path means a
    crafted path (../../etc/passwd) never even reaches the lookup."""
    from starlette.routing import Route

    return [Route("/fil/{file_id:int}", serve, methods=["GET", "HEAD"])]
