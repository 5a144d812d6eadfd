import json

import numpy as np
import pytest

from sok.query.evaluate import evaluate_folds, folds_of, load_questions, training_data
from sok.query.fusion import FEATURES, RANKER_FILE, LinearRanker, features, load_ranker
from sok.query.search import Searcher

QUESTIONS = [
    {"id": "k1", "question": "Vem vann markanvisningstävlingen?", "answers": ["Studor AB"], "kind": "decision",
     "source": ["kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md"]},
    {"id": "k2", "question": "Who won the land allocation competition in Kungsbacka?", "answers": ["Studor AB"],
     "kind": "crosslingual", "source": ["kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md"]},
    {"id": "o1", "question": "Vad rapporterades om SIP?", "answers": ["antal upprättade SIP per vårdcentral"],
     "kind": "aggregate", "source": ["region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"]},
    {"id": "o2", "question": "Hur många samordnade individuella planer upprättades?", "answers": ["SIP"],
     "kind": "paraphrase", "source": ["region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"]},
    {"id": "n1", "question": "Ska Fisksätraskolan läggas ner?", "answers": ["Fisksätraskolan"], "kind": "decision",
     "source": ["nacka/x.pdf"]},
    {"id": "n2", "question": "Har Nacka beslutat om en konserthall?", "answers": [], "kind": "offtopic",
     "expect_empty": True},
]


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "dev_x.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS), encoding="utf-8")
    return load_questions([path])


def test_shipped_ranker_matches_the_features():
    ranker = load_ranker()
    assert len(ranker.weights) == len(FEATURES)
    data = json.loads(RANKER_FILE.read_text())
    assert data["features"] == list(FEATURES)


def _questions(n: int, candidates: int, seed: int, relevant) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """n synthetic questions: random features, one relevant candidate chosen by `relevant(i, x, rng)`."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        x = rng.normal(size=(candidates, len(FEATURES)))
        y = np.zeros(candidates, dtype=bool)
        y[relevant(i, x, rng)] = True
        xs.append(x)
        ys.append(y)
    return xs, ys


def test_fit_learns_which_feature_marks_relevance():
    # the lexical score (column 2) decides, with some noise
    xs, ys = _questions(40, 30, 0, lambda i, x, rng: np.argmax(x[:, 2] + 0.3 * rng.normal(size=len(x))))
    ranker = LinearRanker.fit(xs, ys)
    assert int(np.argmax(ranker.weights)) == 2
    again = LinearRanker.from_json(json.loads(json.dumps(ranker.to_json())))
    assert np.allclose(again.score(xs[0]), ranker.score(xs[0]), atol=1e-4)
    with pytest.raises(ValueError):
        LinearRanker.fit([np.zeros((3, len(FEATURES)))], [np.zeros(3, dtype=bool)])


def test_folds_follow_municipality_and_sourceless_questions_join_their_file(questions):
    assert folds_of(questions) == ["kungsbacka", "kungsbacka", "region-orebro", "region-orebro", "nacka", "kungsbacka"]
    assert set(folds_of(questions, "file")) == {"dev_x"}


def test_hybrid_candidates_carry_every_leg(real_index):
    s = Searcher(real_index[0])
    ranking = s.rank("Who won the land allocation competition in Kungsbacka?")
    legs = ranking.legs
    assert legs is not None and legs.english and len(legs.ids) == len(set(legs.ids.tolist()))
    assert not np.isnan(legs.cosine).any() and not np.isnan(legs.window_cosine).any()
    assert (legs.window_cosine >= legs.cosine - 0.2).all()
    x = features(legs)
    assert x.shape == (len(legs.ids), len(FEATURES)) and np.isfinite(x).all()
    top3 = s.backend.passages([pid for pid, _ in ranking.ordered[:3]])
    assert any("Studor" in row["text"] for row in top3.values())  # found by its meaning across languages


def test_out_of_fold_evaluation_reports_every_leg(real_index, questions):
    s = Searcher(real_index[0])
    shipped = s.ranker
    data = training_data(s, questions)
    assert data[5][0].shape[0] == 0 and data[0][1].any()
    result = evaluate_folds(s, questions)
    assert s.ranker is shipped  # the fold models never leak into the searcher
    assert set(result["legs"]) == {"lexical", "dense", "windows", "rrf"}
    assert result["fold_sizes"] == {"kungsbacka": 3, "nacka": 1, "region-orebro": 2}
    oof = result["fused_oof"]
    assert oof["overall"]["n"] == 5 and oof["expect_empty"]["n"] == 1
    assert oof["overall"]["hit@10"] >= 0.8


def test_calibrate_keeps_all_but_the_budget_of_answerable_questions():
    xs, ys = _questions(100, 20, 1, lambda i, x, rng: i % 20)
    ranker = LinearRanker.fit(xs, ys).calibrate(xs, ys, budget=0.05)
    tops = np.array([ranker.score(x).max() for x in xs])
    best_relevant = np.array([ranker.score(x)[y].max() for x, y in zip(xs, ys)])
    assert (tops < ranker.threshold).sum() == 5
    assert (best_relevant < ranker.passage_threshold).sum() <= 5
    assert ranker.passage_threshold <= ranker.threshold


def test_cutoff_empties_a_question_the_material_cannot_answer(real_index):
    s = Searcher(real_index[0])
    assert s.search("Hur mycket kostar en ny ishall?", cutoff=True) == []
    hits = s.search("Vad rapporterades om SIP?", cutoff=True)
    assert hits and all(h.score >= s.ranker.passage_threshold for h in hits)
