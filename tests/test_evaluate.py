import json

from sok.query.evaluate import evaluate, judge, load_questions, normalize
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
