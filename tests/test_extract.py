
import pytest

from conftest import make_pdf, real_file
from sok.ingest.extract import ExtractionError, extract_file, find_files, split_markdown_pages


def test_pdf_pages_are_physical_and_empty_pages_flagged(tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf", [["Första sidan om förskolan"], [], ["Tredje sidan"]])
    f = extract_file(pdf, tmp_path)
    assert [p.number for p in f.pages] == [1, 2, 3]
    assert "förskolan" in f.pages[0].text
    assert f.empty_pages == [2]
    assert len(f.sha256) == 64 and f.relpath == "a.pdf" and f.kind == "pdf"


def test_markdown_page_markers_keep_their_numbers():
    text = "---\nkommun: x\n---\n\n<!-- sida 1 -->\nett\n<!-- sida 2 -->\ntvå\n<!-- sida 4 -->\nfyra\n"
    pages = split_markdown_pages(text)
    assert [(p.number, p.text.strip()) for p in pages] == [(1, "ett"), (2, "två"), (4, "fyra")]
    assert "kommun" not in pages[0].text


def test_markdown_without_markers_is_one_page(tmp_path):
    md = tmp_path / "a.md"
    md.write_text("# Rubrik\n\nText om SIP.", encoding="utf-8")
    f = extract_file(md, tmp_path)
    assert len(f.pages) == 1 and "SIP" in f.pages[0].text


def test_real_markdown_with_markers():
    path = real_file("kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md")
    f = extract_file(path, path.parent)
    assert [p.number for p in f.pages] == list(range(1, 9))
    assert "Studor AB" in "".join(p.text for p in f.pages)


def test_plain_text_splits_on_form_feed(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("sida ett\fsida två", encoding="utf-8")
    assert [p.text for p in extract_file(txt, tmp_path).pages] == ["sida ett", "sida två"]


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "tom"), (b"%PDF-1.4\nnot really a pdf at all", "kan inte läsas"), (b"\x00\x01garbage", "kan inte läsas")],
)
def test_bad_pdfs_raise_a_swedish_reason(tmp_path, content, reason):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(content)
    with pytest.raises(ExtractionError, match=reason):
        extract_file(bad, tmp_path)


def test_encrypted_pdf_is_reported_as_encrypted(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [["hemlig text"]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="hemligt", owner_password="ägare")
    with open(tmp_path / "locked.pdf", "wb") as fh:
        writer.write(fh)
    with pytest.raises(ExtractionError, match="krypterad"):
        extract_file(tmp_path / "locked.pdf", tmp_path)


def test_find_files_skips_hidden_and_unsupported(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("x")
    (tmp_path / ".hidden.md").write_text("x")
    (tmp_path / "b.docx").write_text("x")
    assert [p.name for p in find_files(tmp_path)] == ["a.md"]
