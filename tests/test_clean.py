from conftest import make_pdf, real_file
from sok.ingest.clean import clean_pages, normalize
from sok.ingest.extract import extract_file
from sok.records import Page


def test_line_break_hyphens_are_joined_but_real_hyphens_kept():
    assert normalize("förvalt-\nningen och") == "förvaltningen och"
    assert normalize("hälso-\noch sjukvård") == "hälso- och sjukvård"
    assert normalize("Översikts\ufffe\r\nplanen") == "Översiktsplanen"
    assert normalize("betydel\u00ad\nsefullt") == "betydelsefullt"
    assert normalize("för arbets\ufffeoch företagsnämnden") == "för arbets- och företagsnämnden"
    assert normalize("planeringsskeden och att ut\r\n\u00ad\r\nformningen") == "planeringsskeden och att utformningen"


def test_whitespace_and_line_endings():
    assert normalize("a  \t b\r\n\r\n\r\n\r\nc\u00a0d") == "a b\n\nc d"


BODIES = ["Skolan byggs om.", "Förskolan läggs ned.", "Budgeten antas.", "Motionen avslås.", "Ärendet bordläggs."]


def test_running_headers_and_footers_are_dropped_but_originals_kept():
    pages = [
        Page(n, f"Ordförandes signatur Justerandes signatur\nSida {n} av 5\n{body}\n"
                "Postadress Region Örebro län Box 1613")
        for n, body in enumerate(BODIES, start=1)
    ]
    clean_pages(pages)
    for p, body in zip(pages, BODIES):
        assert p.clean == body
        assert "Postadress" in p.text


def test_section_headings_repeating_on_pages_are_not_boilerplate():
    pages = [Page(n, f"§ {n} KFKS 2019/{n}\nBeslut\n{body}") for n, body in enumerate(BODIES, start=1)]
    clean_pages(pages)
    assert all(p.clean.startswith(f"§ {p.number}") and "Beslut" in p.clean for p in pages)


def test_real_protocol_loses_its_signature_footer():
    path = real_file("nacka/Kommunstyrelsens_verksamhetsutskott_2021_2021-02-09_00_Protokoll_KSVU_2021-02-09.pdf")
    f = extract_file(path, path.parent)
    clean_pages(f.pages)
    assert sum("Justerandes signatur" in p.text for p in f.pages) >= 2
    assert not any("Justerandes signatur" in p.clean for p in f.pages)


def test_generated_pdf_footer_removed(tmp_path):
    pdf = make_pdf(tmp_path / "p.pdf", [[f"Rubrik {n}", body, "Nacka kommun 131 81 Nacka"] for n, body in enumerate(BODIES)])
    f = extract_file(pdf, tmp_path)
    clean_pages(f.pages)
    assert all("131 81" not in p.clean and body in p.clean for p, body in zip(f.pages, BODIES))


def test_markdown_escapes_and_emphasis_are_not_text():
    from sok.ingest.clean import normalize

    assert normalize("Från: Brev: Val ValAdm \\<(e-post borttagen)>") == "Från: Brev: Val ValAdm <(e-post borttagen)>"
    assert normalize("3\\. punkt **viktigt** och \\*inte\\*") == "3. punkt viktigt och inte"
