"""A read-only HTTP API over one index (`sok api`), for researchers and for
other municipalities' systems: search, answers, cases, timelines, the
document list, members' records and the watches' news, as JSON with an
OpenAPI document (/api/openapi.json, /api/docs). Every answer carries the
same citations as the terminal's `--json`; inputs are bounded (a query of
at most SearchConfig.max_query_chars, at most 50 hits a page) and a bad one
is a 4xx with a Swedish message, never a server error."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

from sok.config import SEARCH
from sok.index import Index
from sok.query.search import SearchError
from sok.records import Filters
from sok.store import reader
from sok.store.db import StoreError
from sok.store.watchlist import WatchError

MAX_PAGE = 50  # hits a page
MAX_PAGES = 20  # pages into a result list (the candidates behind one query are finite)

Q = Annotated[str, Query(min_length=1, max_length=SEARCH.max_query_chars, description="frågan eller sökorden")]
Date = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="ÅÅÅÅ-MM-DD")]
Short = Annotated[str | None, Query(max_length=200)]
Many = Annotated[list[str] | None, Query(max_length=20)]
ERRORS: dict[int | str, dict[str, Any]] = {400: {"description": "ogiltig fråga eller avgränsning"},
                                          404: {"description": "finns inte i indexet"}}


def create_app(index_dir: Path) -> FastAPI:
    index = Index(index_dir)
    app = FastAPI(title="sok", version="1", description="Sök i nämndhandlingar: läs-API över ett index.",
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None)

    @app.exception_handler(SearchError)
    def search_error(request: Any, exc: SearchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(StoreError)
    def store_error(request: Any, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    def filters(organ: list[str] | None, typ: list[str] | None, fran: str | None, till: str | None,
                arende: str | None, beslut: bool, ledamot: str | None, parti: str | None) -> Filters:
        return Filters(organ=[o.casefold() for o in organ or []], doc_type=[t.casefold() for t in typ or []],
                       date_from=fran, date_to=till, case_number=arende, decisions_only=beslut,
                       person=ledamot, party=parti)

    @app.get("/api/sok", responses=ERRORS, summary="Sök passager")
    def search(q: Q, sida: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
               per_sida: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10, alla: bool = False,
               organ: Many = None, typ: Many = None, fran: Date = None, till: Date = None, arende: Short = None,
               beslut: bool = False, ledamot: Short = None, parti: Short = None) -> dict[str, Any]:
        """The hits best first, a page at a time; `alla` includes those below the relevance cut-off."""
        wanted = filters(organ, typ, fran, till, arende, beslut, ledamot, parti)
        result = index.search(q, k=sida * per_sida, cutoff=not alla, filters=wanted)
        page = result.hits[(sida - 1) * per_sida: sida * per_sida]
        return {"q": q, "sida": sida, "per_sida": per_sida, "fler": len(result.hits) == sida * per_sida,
                "traffar": [asdict(h) for h in page], "facetter": result.facets}

    @app.get("/api/fraga", responses=ERRORS, summary="Svar med källhänvisningar")
    def ask(q: Q) -> dict[str, Any]:
        answer = index.ask(q)
        return {**asdict(answer), "no_answer": answer.no_answer, "text": answer.render()}

    @app.get("/api/tidslinje", responses=ERRORS, summary="Relevanta passager per sammanträdesdatum och organ")
    def timeline(q: Q) -> dict[str, Any]:
        result = index.timeline(q)
        return {"query": result.query, "by_date": result.by_date, "by_organ": result.by_organ}

    @app.get("/api/arende", responses=ERRORS, summary="Alla dokument och paragrafer i ett ärende")
    def case(nummer: Annotated[str, Query(min_length=1, max_length=100)]) -> list[dict[str, Any]]:
        return [asdict(e) for e in index.case(nummer)]

    @app.get("/api/ledamot", responses=ERRORS, summary="En ledamots eller ett partis yrkanden, röster och reservationer")
    def person(namn: Short = None, parti: Short = None) -> list[dict[str, Any]]:
        if not namn and not parti:
            raise HTTPException(400, "ange namn eller parti")
        return [asdict(e) for e in index.record(namn, parti)]

    @app.get("/api/dokument", responses=ERRORS, summary="De indexerade handlingarna")
    def documents(sida: Annotated[int, Query(ge=1, le=10_000)] = 1,
                  per_sida: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
        with reader.readonly(index_dir) as db:
            rows = reader.index_status(db)["file_rows"]
        page = rows[(sida - 1) * per_sida: sida * per_sida]
        return {"antal": len(rows), "sida": sida, "per_sida": per_sida, "dokument": page}

    @app.get("/api/bevakningar", summary="Bevakningarna")
    def watches() -> list[dict[str, Any]]:
        return [asdict(w) for w in index.watch_list()]

    @app.get("/api/bevakningar/nytt", responses=ERRORS, summary="Nya träffar i bevakningarna (markeras inte som lästa)")
    def news(namn: Short = None) -> list[dict[str, Any]]:
        try:
            return [asdict(h) for h in index.watch_news(namn, mark_seen=False)]
        except WatchError as exc:
            raise HTTPException(404, str(exc)) from None

    return app


def serve(index_dir: Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(index_dir), host=host, port=port, log_level="warning")
