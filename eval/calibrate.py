"""Calibrate the answerer's `min_dense_score`: the abstention threshold that best separates the eval questions.

The assistant abstains when its abstention score (`assistant.answer.evidence_score`: the best dense
similarity plus half its margin over the next passages) is below the threshold; the runner records
that score per question, so calibration always follows the answerer's own rule.

We pick the threshold with the highest *balanced* accuracy, the mean of the abstention rate on
unanswerable questions and the answer rate on answerable ones, because eval sets hold far more
answerable than unanswerable questions and plain accuracy would favour never abstaining.
Among equally good thresholds the one in the widest gap between observed scores wins (the most
margin on both sides); it sits midway in that gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eval import metrics

# Thresholds just outside the observed scores: "never abstain" and "always abstain".
_OUTSIDE = 0.01


@dataclass(frozen=True)
class ThresholdScore:
    """How one threshold would have done on the eval questions (abstention is the positive class)."""

    threshold: float
    balanced_accuracy: float | None
    accuracy: float
    abstention_precision: float | None
    abstention_recall: float | None
    false_abstention_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def evaluate_threshold(scores: Sequence[float | None], answerable: Sequence[bool], threshold: float) -> ThresholdScore:
    """Abstain where the abstention score is missing or below `threshold`, and score that decision."""
    found = [s is not None and s >= threshold for s in scores]
    no_answer = metrics.no_answer_accuracy(answerable, found)
    false_abstention = metrics.false_abstention_rate(answerable, found)
    precision, recall = metrics.abstention_precision_recall(answerable, found)
    balanced = None if no_answer is None or false_abstention is None else (no_answer + 1 - false_abstention) / 2
    correct = [f == a for f, a in zip(found, answerable, strict=True)]
    return ThresholdScore(threshold, balanced, metrics.share(correct) or 0.0, precision, recall, false_abstention)


def candidate_thresholds(scores: Sequence[float | None]) -> list[tuple[float, float]]:
    """(threshold, gap) pairs: midpoints between neighbouring observed scores, plus the two outside ones."""
    distinct = sorted({s for s in scores if s is not None})
    if not distinct:
        return []
    out = [(distinct[0] - _OUTSIDE, 0.0), (distinct[-1] + _OUTSIDE, 0.0)]
    out += [((low + high) / 2, high - low) for low, high in zip(distinct, distinct[1:], strict=False)]
    return out


def suggest_threshold(scores: Sequence[float | None], answerable: Sequence[bool]) -> ThresholdScore | None:
    """The threshold with the best balanced accuracy; None without both answerable and unanswerable questions."""
    if all(answerable) or not any(answerable):
        return None
    best: tuple[float, float, ThresholdScore] | None = None
    for threshold, gap in candidate_thresholds(scores):
        scored = evaluate_threshold(scores, answerable, threshold)
        key = (scored.balanced_accuracy or 0.0, gap)
        if best is None or key > best[:2]:
            best = (*key, scored)
    return best[2] if best else None


def calibration_report(scores: Sequence[float | None], answerable: Sequence[bool], current: float) -> dict[str, Any]:
    """The current threshold's numbers and the suggested threshold's, as the JSON output holds them."""
    suggested = suggest_threshold(scores, answerable)
    return {
        "objective": "balanced_accuracy",
        "questions": len(scores),
        "unanswerable": sum(1 for a in answerable if not a),
        "current": evaluate_threshold(scores, answerable, current).to_dict(),
        "suggested": suggested.to_dict() if suggested else None,
    }
