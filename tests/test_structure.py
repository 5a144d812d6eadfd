from sok.ingest.structure import find_title


def test_title_prefers_markdown_heading_then_a_title_like_line():
    assert find_title("intro\n# Återrapportering 2023\ntext", "fil") == "Återrapportering 2023"
    assert find_title("www.nacka.se\n3 (12)\nNedläggning av Skogsgläntans förskola\n", "fil") == "Nedläggning av Skogsgläntans förskola"
    assert find_title("12\n", "reservnamn") == "reservnamn"


def test_real_files_get_documents_items_decisions_and_dates(tmp_path):
    from conftest import real_file
    from sok.ingest.extract import sha256_file
    from sok.store.sync import prepare

    path = real_file("region-orebro/2023_aterrapportering_beredning_for_nara_vard.md")
    f, passages = prepare(path, path.parent, sha256_file(path))
    assert f.documents[0].doc_type == "återrapportering" and f.documents[0].organ == "beredning för nära vård"
    assert any({"2023-05-30", "2023-09-20"} <= set(p.dates) for p in passages)  # "den 30 maj" in a 2023 report

    path = real_file("nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf")
    f, passages = prepare(path, path.parent, sha256_file(path))
    assert f.documents[0].doc_type == "protokollsutdrag" and f.date == "2019-05-13"
    assert any(p.is_decision for p in passages) and all("KFKS 2019/475" in p.case_numbers for p in passages)

    # the kallelse's agenda table writes "2024-00056", its tjänsteskrivelse "VN-2024-00056": one case
    path = real_file("kungsbacka/kungsbacka_val_2025-02-03_handlingar.md")
    f, passages = prepare(path, path.parent, sha256_file(path))
    numbers = {n for p in passages for n in p.case_numbers}
    assert "VN-2024-00056" in numbers and "2024-00056" not in numbers


def test_windows_are_embedded_as_bare_sentences_and_a_one_window_passage_as_itself():
    """The passage vector carries title and headings; its windows are the
    sentences alone (so a leg that disagrees with the passage leg), and a
    passage short enough to be one window reuses the passage's own input."""
    from conftest import real_file
    from sok.ingest.chunking import windows
    from sok.ingest.extract import sha256_file
    from sok.ingest.structure import embedding_input, window_inputs
    from sok.store.sync import prepare

    path = real_file("nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf")
    f, passages = prepare(path, path.parent, sha256_file(path))
    long = next(p for p in passages if len(windows(p.text)) > 1)
    assert window_inputs(f, long) == windows(long.text)
    assert embedding_input(f, long).startswith(f.documents[long.document].title)
    assert not any(w.startswith(f.documents[long.document].title) for w in window_inputs(f, long))
    short = next(p for p in passages if len(windows(p.text)) == 1)
    assert window_inputs(f, short) == [embedding_input(f, short)]
