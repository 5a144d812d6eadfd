"""sok in the browser: search and cited answers over the records in the
index named by SOK_INDEX (default ./index).

    sok serve                (or, in a source checkout: streamlit run app.py)

Streamlit runs this file as `__main__` for every page view; `streamlit run`
(and uvicorn) first import it as a module and find `app`, an `st.App` that
adds two routes to Streamlit's own server: /fil/<id>, which serves indexed
originals, and /fil/<id>/stalle/<passage>, the cited place marked on its
pages, where a citation opens (see sok/ui/fileserver.py).

Widgets are the truth while a page is open; the URL (st.query_params) is
rewritten after every run, so a copied link reproduces the search. The
helpers that build HTML, read the store and adapt to the core's API live in
sok/ui/webapp.py; everything shown from a record is escaped there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import streamlit as st

from sok.index import Index
from sok.language import count
from sok.query import cases, politics
from sok.store import reader
from sok.ui import export
from sok.ui import webapp as w

WIDGETS = ("q", "lage", "vy", "organ", "typ", "arende", "beslut", "arende_vy", "ledamot", "parti")  # "ar" is kept in "_years"
EXAMPLES = ("Vad rapporterades om SIP?", "Vad beslutade kommunstyrelsen om Fisksätraskolan?",
            "Hur går planerna på en ny konserthall?")


# --- loading, once per process ------------------------------------------------------


@st.cache_resource(show_spinner="Laddar språkmodellen (första gången tar det några sekunder) …")
def load_embedder(spec: str) -> Any:
    """The embedding model, shared by every session and every index."""
    from sok.embedding import load_query_embedder

    embedder = w.QueryVectorCache(load_query_embedder(spec))
    embedder.embed_query("uppvärmning")  # the first call pays one-off setup; do it here, not on a search
    return embedder


@st.cache_resource(show_spinner="Läser in sökindexet …", max_entries=4)
def load_engine(index_dir: str, _key: tuple) -> w.Engine:
    """The searcher for one index on disk; `_key` changes when the index
    folder is rebuilt, so a new file is loaded instead of a deleted one."""
    from sok.index import Index

    spec = reader.read_meta(Path(index_dir), "embedder") or "auto"
    index = Index(index_dir, embedder=load_embedder(spec))
    return w.Engine(searcher=index.searcher, index_dir=Path(index_dir))


def index_or_stop() -> Path:
    """The index folder, or a Swedish explanation of how to make one and a stop."""
    from sok.config import default_index_dir

    index_dir = default_index_dir()
    if not (index_dir / "sok.sqlite").exists():
        st.error(f"Inget index i `{index_dir}`. Bygg ett med  `sok index MAPP`  eller ange en indexmapp med "
                 "miljövariabeln `SOK_INDEX`.")
        st.stop()
    return index_dir


def engine_or_stop(index_dir: Path) -> w.Engine:
    """The loaded engine (a spinner says so while it loads the first time),
    or the core's Swedish message about the index and a stop."""
    from sok.query.search import SearchError
    from sok.store.db import BackendError, StoreError

    try:
        key = w.index_key(index_dir)
        engine = load_engine(key[0], key)
        with engine.lock:
            engine.searcher.refresh()
    except (SearchError, StoreError, BackendError, OSError) as exc:
        st.error(w.plain(exc))
        st.stop()
    return engine


# --- state ----------------------------------------------------------------------------


def init_state() -> None:
    """On a session's first run, fill the widgets from the URL; afterwards
    keep widget values alive while their view is hidden."""
    ss = st.session_state
    if "_init" not in ss:
        params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
        s = w.from_params(params)
        ss.update(q=s.q, lage=s.mode, vy=s.view, organ=s.organ, typ=s.doc_type, arende=s.case,
                  beslut=s.decisions, ledamot=s.person, parti=s.party, arende_vy=s.case or None, _years=(s.year_from, s.year_to), _init=True,
                  _lage_vald="lage" in params)
    for key in WIDGETS:
        if key in ss:
            ss[key] = ss[key]  # a hidden widget's value would otherwise be dropped


def current_state(years: list[int]) -> w.UiState:
    ss = st.session_state
    lo, hi = ss.get("ar") or ss.get("_years") or (None, None)
    if years and (lo, hi) == (years[0], years[-1]):
        lo = hi = None
    view = ss.get("vy", "sok")
    case = (ss.get("arende_vy") or "") if view == "arende" else ss.get("arende", "")
    return w.UiState(q=(ss.get("q") or "").strip(), mode=ss.get("lage", "sok"), view=view,
                     organ=list(ss.get("organ") or []), doc_type=list(ss.get("typ") or []),
                     year_from=lo, year_to=hi, case=(case or "").strip(), decisions=bool(ss.get("beslut")),
                     person=(ss.get("ledamot") or "").strip(), party=(ss.get("parti") or "").strip())


def write_url(state: w.UiState) -> None:
    params = w.to_params(state)
    current = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if current != wanted:
        st.query_params.from_dict(params)


# --- search view ----------------------------------------------------------------------


def facet_label(counts: dict[str, int]) -> Any:
    return lambda name: f"{w.label(name)} ({counts.get(name, 0)})"


def sidebar_filters(db: Any, results: w.Results, years: list[int]) -> None:
    """Organ, type, years, case number, decisions, member and party, the first ones with counts from
    the current results; options come from the whole index so a chosen value
    never disappears from its list."""
    ss = st.session_state
    counts = {k: dict(v) for k, v in results.facets.items()}
    sb = st.sidebar
    sb.subheader("Avgränsa")
    for key, column, title in (("organ", "organ", "Organ"), ("typ", "doc_type", "Dokumenttyp")):
        c = counts.get(column, {})
        options = sorted(set(reader.choices(db, column)) | set(ss.get(key) or []), key=lambda o: (-c.get(o, 0), o))
        # no "Select all" (English, and choosing every value is the same as choosing none); long organ names wrap
        sb.multiselect(title, options, key=key, format_func=facet_label(c), placeholder="Alla", select_all=False,
                       wrap=True)
    if len(years) >= 2:
        lo, hi = ss.get("_years") or (None, None)
        value = (lo if lo in years else years[0], hi if hi in years else years[-1])
        yc = {int(y): n for y, n in counts.get("year", {}).items() if str(y).isdigit()}
        sb.select_slider("År", options=years, value=value, key="ar", format_func=lambda y: f"{y} ({yc.get(y, 0)})")
        ss["_years"] = ss["ar"]  # survives views where the slider is not drawn
    sb.text_input("Ärendenummer", key="arende", placeholder="t.ex. KFKS 2019/475")
    decisions = sum(1 for h in results.relevant if h.is_decision)
    sb.toggle(f"Endast beslut ({decisions})", key="beslut")
    sb.text_input("Ledamot", key="ledamot", placeholder="t.ex. Håkan Skaneland",
                  help="Bara paragrafer där ledamoten yrkade, röstade, reserverade sig eller antecknade något")
    sb.text_input("Parti", key="parti", placeholder="t.ex. V eller Vänsterpartiet")
    sb.caption("Siffrorna inom parentes räknar träffarna för frågan med de avgränsningar som är valda.")


def intro() -> None:
    st.markdown("Skriv en fråga eller några sökord. **Sök** visar de passager som bäst matchar; "
                "**Fråga** sätter ihop ett svar av meningar ur handlingarna, med källhänvisning till sidan.")
    links = " · ".join(f"[{q}]({w.link(w.UiState(q=q, mode='fraga'))})" for q in EXAMPLES)
    st.markdown(f"Exempel: {links}")


def timeline_panel(results: w.Results) -> None:
    """Relevant passages per meeting date, coloured by organ."""
    import altair as alt

    st.markdown("**Relevanta passager per sammanträdesdatum**")
    rows = w.per_date(results.relevant)
    if not rows:
        st.caption("Ingen passage når relevanströskeln.")
        return
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(size=26).encode(
        x=alt.X("datum:N", title=None, sort="ascending", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("sum(antal):Q", title=None, axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("organ:N", title=None, legend=alt.Legend(orient="bottom", columns=1, labelLimit=0)),
        tooltip=[alt.Tooltip("datum:N", title="Datum"), alt.Tooltip("organ:N", title="Organ"),
                 alt.Tooltip("antal:Q", title="Passager")],
    ).properties(height=240)
    st.altair_chart(chart, width="stretch")


def hit_list(db: Any, results: w.Results, state: w.UiState, ids: dict[str, int]) -> None:
    """The relevant hits (those that clear the cut-off), a page at a time;
    the rest behind "Visa fler, mindre relevanta"."""
    if not results.hits:
        st.info("Inga träffar." + (" Prova att ta bort någon avgränsning." if w.to_filters(state).active else ""))
        return
    ss = st.session_state
    shown_key = f"_visade:{state.q}:{w.to_params(state)}"  # a new search starts on its first page
    shown = ss.get(shown_key, w.SHOWN_HITS)
    relevant, rest = results.relevant, results.less_relevant
    if relevant:
        page = relevant[:shown]
        st.caption(f"Visar {len(page)} av {count(len(relevant), 'relevant träff', 'relevanta träffar')}, bäst först.")
        cards(db, page, ids, start=1)
        download(export.hit_rows(relevant), "traffar", "dl_traffar")
        if len(relevant) > shown:
            st.button("Visa fler", key="fler", on_click=lambda: ss.update({shown_key: shown + w.SHOWN_HITS}))
    else:
        st.warning("Inget i materialet matchar frågan tillräckligt väl.")
    if rest:
        with st.expander(f"Visa fler, mindre relevanta ({len(rest)})", expanded=not relevant):
            if len(rest) > w.SHOWN_HITS:
                st.caption(f"De {w.SHOWN_HITS} närmaste av {len(rest)} visas; skärp frågan eller avgränsa för andra.")
            cards(db, rest[: w.SHOWN_HITS], ids, start=len(relevant) + 1, weak=True)


def cards(db: Any, hits: list[Any], ids: dict[str, int], start: int, weak: bool = False) -> None:
    twins = reader.passage_files(db, [o["passage_id"] for h in hits for o in h.also_in if "passage_id" in o])
    for n, hit in enumerate(hits, start=start):
        also = [w.file_url(twins.get(o.get("passage_id", -1)), o.get("page_start", 1), o.get("passage_id"))
                for o in hit.also_in]
        url = w.file_url(ids.get(hit.path), hit.page_start, hit.passage_id)
        card(db, w.hit_card(n, hit, url, also, weak), hit.passage_id)


def card(db: Any, body: str, passage_id: int) -> None:
    """A bordered card with the neighbouring passages one click away."""
    with st.container(border=True):
        st.html(body)
        with st.expander("Visa sammanhang"):
            st.html(w.context_html(reader.context_passages(db, passage_id)))


def answer_view(db: Any, engine: w.Engine, results: w.Results, state: w.UiState, ids: dict[str, int]) -> None:
    from sok.query.search import SearchError, snippet
    from sok.records import NO_ANSWER
    from sok.store.db import BackendError

    try:
        answer = w.run_ask(engine.searcher, state.q, w.to_filters(state))
    except (SearchError, BackendError) as exc:  # a broken install, a server down: say what to do
        st.error(w.plain(exc))
        return
    urls = {s.number: w.file_url(ids.get(s.path), s.page_start, s.passage_id) for s in answer.sources}
    st.html(w.answer_html(answer, urls, NO_ANSWER))
    if answer.no_answer:
        return
    st.markdown("**Källor**")
    for s in answer.sources:
        excerpt = snippet(reader.passage_text(db, s.passage_id), state.q, 60)
        card(db, w.source_card(s, excerpt, urls[s.number]), s.passage_id)
    download(export.answer_rows(answer), "svar", "dl_svar")


def download(rows: list[dict], name: str, key: str) -> None:
    """The result as CSV (with a byte-order mark, so a spreadsheet reads å, ä, ö) and JSON, with its citation columns."""
    cols = st.columns(2)
    cols[0].download_button("Ladda ned CSV", export.render(rows, "csv").encode("utf-8"), f"{name}.csv", "text/csv",
                            key=f"{key}_csv")
    cols[1].download_button("Ladda ned JSON", export.render(rows, "json").encode("utf-8"), f"{name}.json",
                            "application/json", key=f"{key}_json")


def search_view(index_dir: Path, db: Any, years: list[int]) -> w.UiState:
    """Search box first, then the engine: a first-time visitor sees the page
    at once and the loading message below the box while typing."""
    from sok.config import SEARCH
    from sok.query.search import query_problem

    left, right = st.columns([5, 1], vertical_alignment="bottom")
    ss = st.session_state

    def typed() -> None:  # the mode follows what was typed until the user picks one
        if not ss.get("_lage_vald"):
            ss["lage"] = w.mode_for(ss.get("q") or "")

    left.text_input("Sökfråga", key="q", placeholder="Till exempel: Vad rapporterades om SIP?",
                    label_visibility="collapsed", max_chars=SEARCH.max_query_chars, on_change=typed)
    right.radio("Läge", list(w.MODES), key="lage", format_func=w.MODES.get, horizontal=True,
                label_visibility="collapsed", on_change=lambda: ss.update(_lage_vald=True))
    engine = engine_or_stop(index_dir)
    state = current_state(years)
    results = None
    if state.q and (problem := query_problem(state.q)):  # a crafted URL: refused before it costs anything
        st.warning(w.plain(problem))
        return state
    if state.q:
        from sok.store.db import BackendError

        with st.spinner("Söker …"):
            try:
                results = w.run_search(engine.searcher, state.q, w.to_filters(state))
            except BackendError as exc:  # a server or a shard down: named, and no list from part of the material
                st.error(w.plain(exc))
                return state
    if results is None:
        intro()
        return state
    sidebar_filters(db, results, years)
    if st.sidebar.button("Bevaka den här sökningen", help="spara frågan och avgränsningarna; nytt material rapporteras "
                         "under Bevakningar efter nästa indexering"):
        add_watch(index_dir, state.q, state.q, w.to_filters(state))
    ids = reader.file_ids(db)
    main, side = st.columns([3, 2], gap="large")
    with main:
        if state.mode == "fraga":
            with st.spinner("Sätter ihop svaret …"):
                answer_view(db, engine, results, state, ids)
        else:
            hit_list(db, results, state, ids)
    with side:
        timeline_panel(results)
        organs = w.per_organ(results.relevant)
        if organs:
            st.markdown("**Per organ**")
            st.html(organs)
    return state


# --- case and index views -------------------------------------------------------------


def case_view(index_dir: Path, db: Any, years: list[int]) -> w.UiState:
    st.subheader("Ärende")
    engine = engine_or_stop(index_dir)
    known = dict(cases.case_numbers(engine.searcher.backend))
    options = list(known)
    chosen = st.session_state.get("arende_vy")
    if chosen and chosen not in options:
        options.insert(0, chosen)
    st.selectbox("Ärendenummer", options, key="arende_vy", accept_new_options=True,
                 placeholder="Välj eller skriv ett diarienummer, t.ex. KFKS 2019/475",
                 format_func=lambda n: f"{n} ({count(known[n], 'handling', 'handlingar')})" if n in known else n)
    state = current_state(years)
    if not state.case:
        return state
    entries = cases.case(engine.searcher.backend, state.case)
    if not entries:
        st.html(w.notice(f"Inget i indexet nämner ärendet {state.case}."))
        return state
    ids = reader.file_ids(db)
    st.caption(f"{count(len(entries), 'handling eller paragraf', 'handlingar och paragrafer')}, äldst först.")
    st.html(w.case_table(entries, [w.file_url(ids.get(e.path), e.page_start) for e in entries]))
    download(export.citation_rows(entries, ("doc_type", "title", "decision")), "arende", "dl_arende")
    return state


def person_view(index_dir: Path, db: Any, years: list[int]) -> w.UiState:
    """A member's or a party's record (`sok person`): yrkanden, votes,
    reservations and notes with citations, and a party's votes per omröstning."""
    st.subheader("Ledamot och parti")
    cols = st.columns(2)
    cols[0].text_input("Ledamot", key="ledamot", placeholder="t.ex. Håkan Skaneland")
    cols[1].text_input("Parti", key="parti", placeholder="t.ex. V eller Vänsterpartiet")
    state = current_state(years)
    if not state.person and not state.party:
        st.caption("Skriv en ledamots namn (förnamn och efternamn räcker) eller ett parti.")
        return state
    entries = Index(index_dir).record(state.person or None, state.party or None)
    who = " ".join(x for x in (state.person, f"({state.party})" if state.party else None) if x)
    if not entries:
        st.html(w.notice(f"Inga yrkanden, röster, reservationer eller protokollsanteckningar av {who} i indexet."))
        return state
    st.caption(f"{who}: " + ", ".join(count(sum(1 for e in entries if e.kind == k), one, many)
                                     for k, (one, many) in politics.KINDS.items() if any(e.kind == k for e in entries))
               + ". Äldst först; varje rad öppnar stället i handlingen.")
    grouped = politics.party_votes(entries) if state.party and not state.person else []
    if grouped:
        st.markdown(f"**Omröstningar ({len(grouped)}), partiets röster**")
        st.html(w.party_vote_table(grouped))
        entries = [e for e in entries if e.kind != "röst"]
    ids = reader.file_ids(db)
    st.html(w.record_table(entries, [w.file_url(ids.get(e.path), e.page_start, e.passage_id) for e in entries]))
    return state


def watch_view(index_dir: Path, db: Any, years: list[int]) -> w.UiState:
    """Bevakningar: what each watch found since the user last looked, the
    watches themselves, a form to add one, and the Atom feeds."""
    st.subheader("Bevakningar")
    index = Index(index_dir)
    ids = reader.file_ids(db)
    news = index.watch_news(mark_seen=False)
    if news:
        st.markdown(f"**{count(len(news), 'ny träff', 'nya träffar')}** sedan du senast tittade")
        st.html(w.watch_hits_html(news, [w.file_url(ids.get(h.path), h.page_start) for h in news]))

        def mark_read() -> None:
            Index(index_dir).watch_news()

        st.button("Markera som lästa", key="bevakning_last", on_click=mark_read)
    else:
        st.caption("Inga nya träffar. En bevakning körs efter varje  sok index  och rapporterar det som kommit till.")
    watches = index.watch_list()
    if watches:
        st.markdown("**Dina bevakningar** (flöde för alla: [/flode.atom](/flode.atom))")
        for watch in watches:
            cols = st.columns([4, 1])
            cols[0].markdown(f"{w.esc(watch.name)}: “{w.esc(watch.query)}” · [flöde](/flode/{quote(watch.name)}.atom)")
            cols[1].button("Ta bort", key=f"ta_bort:{watch.name}", on_click=lambda n=watch.name: Index(index_dir).watch_remove(n))
    with st.form("ny_bevakning", clear_on_submit=True):
        query = st.text_input("Ny bevakning: fråga eller sökord", placeholder="t.ex. SIP")
        name = st.text_input("Namn (valfritt)")
        if st.form_submit_button("Spara bevakning") and query.strip():
            add_watch(index_dir, name.strip() or query.strip(), query.strip(), None)
    return current_state(years)


def add_watch(index_dir: Path, name: str, query: str, filters: Any) -> None:
    """A watch added from the app, on the app's loaded searcher; the message says how it went."""
    from sok.store.watchlist import WatchError

    engine = engine_or_stop(index_dir)
    try:
        _, known = Index(index_dir, searcher=engine.searcher).watch_add(name, query, filters)
    except WatchError as exc:
        st.warning(w.plain(exc))
        return
    st.success(f"Bevakningen {name} sparad; materialet har redan {count(known, 'relevant passage', 'relevanta passager')}. "
               "Det som kommer till rapporteras här.")


def index_view(db: Any, years: list[int]) -> w.UiState:
    """The state of the index: what `sok status` says, as tables."""
    info = reader.index_status(db)
    st.subheader("Om indexet")
    cols = st.columns(5)
    for col, (name, value) in zip(cols, [("Filer", info["files"]), ("Sidor", info["pages"]),
                                         ("Sidor utan text", info["empty_pages"]), ("Passager", info["passages"]),
                                         ("Logiska dokument", info["documents"] or "–")]):
        col.metric(name, value)
    st.markdown(f"**Modell:** `{w.esc(info['model'] or 'okänd')}`  \n**Indexerade mappar:** "
                + ", ".join(f"`{w.esc(r)}`" for r in info["roots"]))
    last = info["last_run"]
    if last:
        st.markdown(f"**Senaste indexering:** {w.esc(last.get('finished'))} (började {w.esc(last.get('started'))})")
    if info["empty_by_file"]:
        st.markdown("**Sidor utan textlager** (läs dem med `sok index --ocr`)")
        st.dataframe([{"Fil": f, "Sidor": ", ".join(map(str, p)), "Antal": len(p)}
                      for f, p in info["empty_by_file"].items()], hide_index=True, width="stretch")
    if info["ocr_by_file"]:
        st.markdown("**Sidor lästa med OCR**")
        st.dataframe([{"Fil": f, "Sidor": ", ".join(map(str, p)), "Antal": len(p)}
                      for f, p in info["ocr_by_file"].items()], hide_index=True, width="stretch")
    if info["repaired_pages"]:
        st.markdown(f"**Lagat textlager:** {info['repaired_pages']} sidor där typsnittet tappat ligaturer"
                    " (\"at\" för \"att\") har lagats; träffar därifrån märks.")
    if info["personal_pages"]:
        numbers = sum(r["personnummer"] for r in info["personal_pages"])
        shown = info["personal_data"] == "shown"
        st.markdown(f"**Personuppgifter:** {numbers} personnummer, "
                    + ("**visas** (indexet är byggt med `--show-personal-data`)" if shown else "dolda i all text")
                    + "; sidor märkta sekretess eller bortredigerat bör granskas.")
        st.dataframe([{"Fil": r["file"], "Sida": r["page"], "Personnummer": r["personnummer"],
                       "Sekretess": "ja" if r["secret"] else ""} for r in info["personal_pages"]],
                     hide_index=True, width="stretch")
    st.markdown("**Filer**")
    st.dataframe([{"Fil": r["relpath"], "Typ": r["kind"], "Sidor": r["n_pages"], "Utan text": r["empty"],
                   "Lagade sidor": r["repaired"],
                   "Passager": r["passages"], "Titel": r["title"], "Datum": r["date"], "Indexerad": r["indexed_at"]}
                  for r in info["file_rows"]], hide_index=True, width="stretch")
    return current_state(years)


# --- page -----------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="sok – sök i nämndhandlingar", page_icon="🔎", layout="wide")
    st.html(w.CSS)
    started = time.perf_counter()
    index_dir = index_or_stop()
    init_state()
    st.sidebar.title("sok")
    unread = len(Index(index_dir).watch_news(mark_seen=False)) if (index_dir / "watches.sqlite").exists() else 0
    st.sidebar.radio("Visa", list(w.VIEWS), key="vy", label_visibility="collapsed",
                     format_func=lambda v: f"{w.VIEWS[v]} ({unread} nya)" if v == "bevakningar" and unread else w.VIEWS[v])
    with reader.readonly(index_dir) as db:
        years = reader.years(db)
        files, passages = reader.counts(db)
        view = st.session_state.get("vy", "sok")
        if view == "index":
            state = index_view(db, years)
        elif view == "arende":
            state = case_view(index_dir, db, years)
        elif view == "ledamot":
            state = person_view(index_dir, db, years)
        elif view == "bevakningar":
            state = watch_view(index_dir, db, years)
        else:
            st.header("Sök i nämndhandlingar", anchor=False)
            st.caption(f"Träffar och svar ur {files} handlingar ({passages} passager). Varje svarsrad hänvisar "
                       "till sidan i originalet.")
            state = search_view(index_dir, db, years)
    write_url(state)
    st.sidebar.caption(f"Index: {index_dir} · {passages} passager · sidan tog {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run` / uvicorn: the server, with the file route
    from sok.ui.fileserver import routes

    app = st.App(__file__, routes=routes())
