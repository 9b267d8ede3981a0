"""Eval metrics against hand-computed cases and against trec_eval (pytrec_eval) on a synthetic run."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from eval import metrics
from eval.calibrate import evaluate_threshold, suggest_threshold
from eval.runner import QuestionResult
from eval.summary import summarize


def test_ranking_metrics_by_hand() -> None:
    gains = [0.0, 1.0, 0.0, 1.0, 0.0]
    assert metrics.hit_at_k(gains, 1) == 0.0
    assert metrics.hit_at_k(gains, 5) == 1.0
    assert metrics.reciprocal_rank(gains, 10) == 0.5
    assert metrics.reciprocal_rank(gains, 1) == 0.0
    # DCG = 1/log2(3) + 1/log2(5); ideal with two relevant = 1 + 1/log2(3).
    assert metrics.ndcg_at_k(gains, [1.0, 1.0], 10) == pytest.approx(1.0616063 / 1.6309298, abs=1e-6)
    # Graded: DCG = 2 + 1/log2(4) = 2.5; ideal = 2 + 1/log2(3) + 1/log2(4).
    assert metrics.ndcg_at_k([2.0, 0.0, 1.0], [1.0, 2.0, 1.0], 10) == pytest.approx(2.5 / 3.1309298, abs=1e-6)
    assert metrics.ndcg_at_k([0.0, 0.0], [], 10) == 0.0
    assert metrics.ndcg_at_k([1.0], [1.0], 10) == 1.0
    assert metrics.recall(2, 4) == 0.5 and metrics.recall(0, 0) == 0.0


def test_answer_metrics_by_hand() -> None:
    answerable = [True, True, True, False, False]
    found = [True, False, True, False, True]
    assert metrics.no_answer_accuracy(answerable, found) == 0.5
    assert metrics.false_abstention_rate(answerable, found) == pytest.approx(1 / 3)
    # Abstained on #1 (answerable: wrong) and #3 (unanswerable: right).
    assert metrics.abstention_precision_recall(answerable, found) == (0.5, 0.5)
    assert metrics.abstention_precision_recall([True], [True]) == (None, None)
    assert metrics.citation_precision([[True, False], [True], []]) == 0.75
    assert metrics.citation_precision([]) is None


def test_percentiles_match_numpy() -> None:
    values = [12.0, 3.0, 40.0, 7.5, 19.0, 22.0, 5.0]
    for q in (0, 50, 95, 100):
        assert metrics.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert metrics.percentile([], 50) is None


def _result(qid: str, lang: str, ranks: list[tuple[int, float]], total: int, found: bool, answerable: bool = True):
    return QuestionResult(
        id=qid,
        lang=lang,
        question=qid,
        answerable=answerable,
        expected=[],
        retrieved=[],
        relevant_ranks=ranks,
        ideal_gains=[1.0] * min(total, 10),
        recall_found=len(ranks),
        recall_total=total,
        first_relevant_rank=ranks[0][0] if ranks else None,
        found=found,
        answer="",
        cited=[{"source": "x", "relevant": True}] if found else [],
        best_dense_score=None,
        abstention_score=None,
        search_ms=10.0,
        ask_ms=20.0,
    )


def test_summary_averages_over_ranked_questions_and_splits_by_language() -> None:
    results = [
        _result("a", "en", [(1, 1.0)], 1, True),
        _result("b", "en", [(3, 1.0)], 1, False),
        _result("c", "fi", [], 1, True),
        _result("d", "fi", [], 0, False, answerable=False),
    ]
    overall = summarize(results)
    assert overall["ranked"] == 3 and overall["unanswerable"] == 1
    assert overall["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert overall["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-4)
    assert overall["no_answer_accuracy"] == 1.0
    assert overall["false_abstention_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["ask_p50_ms"] == 20.0
    assert summarize(results[:2])["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 2, abs=1e-4)


def test_agreement_with_trec_eval_on_a_synthetic_run() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(150)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(12):
        judged = rng.sample(docs, 8)
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        scores = rng.sample(range(100_000), 120)  # distinct scores: no tie-breaking differences
        run[f"q{q}"] = {d: float(s) for d, s in zip(rng.sample(docs, 120), scores, strict=True)}
    top10 = {q: dict(sorted(r.items(), key=lambda x: -x[1])[:10]) for q, r in run.items()}
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    for q, scores in run.items():
        ranking = sorted(scores, key=lambda d: -scores[d])
        gains = [float(qrels[q].get(d, 0)) for d in ranking]
        ideal = [float(g) for g in qrels[q].values() if g > 0]
        found = sum(1 for g in gains[:100] if g > 0)
        assert metrics.ndcg_at_k(gains, ideal, 10) == pytest.approx(full[q]["ndcg_cut_10"], abs=1e-9)
        assert metrics.recall(found, len(ideal)) == pytest.approx(full[q]["recall_100"], abs=1e-9)
        assert metrics.reciprocal_rank(gains, 10) == pytest.approx(rr[q]["recip_rank"], abs=1e-9)


def test_calibration_picks_the_threshold_in_the_gap() -> None:
    scores = [0.81, 0.72, 0.75, 0.31, 0.42, None]
    answerable = [True, True, True, False, False, False]
    best = suggest_threshold(scores, answerable)
    assert best is not None
    assert best.threshold == pytest.approx((0.42 + 0.72) / 2)
    assert best.balanced_accuracy == 1.0 and best.abstention_precision == 1.0 and best.abstention_recall == 1.0
    current = evaluate_threshold(scores, answerable, 0.3)
    # Only the missing score abstains: recall 1/3, the answerable ones all answered.
    assert current.abstention_recall == pytest.approx(1 / 3) and current.false_abstention_rate == 0.0
    assert suggest_threshold([0.5, 0.6], [True, True]) is None
