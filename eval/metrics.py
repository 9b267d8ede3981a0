"""Retrieval and answer metrics as pure functions over gains, flags and timings.

Ranking metrics take `gains`: the gain of each retrieved item in rank order (0 = not relevant).
Conventions follow BEIR / trec_eval: nDCG uses linear gains (the qrels grade, or 1 for eval sets)
with log2(rank + 1) discounts and an ideal DCG built from the `ideal` gains; recall@k divides the
relevant items found in the top k by all relevant items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def hit_at_k(gains: Sequence[float], k: int) -> float:
    """1.0 when any of the first k items is relevant."""
    return 1.0 if any(g > 0 for g in gains[:k]) else 0.0


def reciprocal_rank(gains: Sequence[float], k: int) -> float:
    """1 / rank of the first relevant item within the first k, else 0 (MRR@k per query)."""
    for rank, gain in enumerate(gains[:k], start=1):
        if gain > 0:
            return 1.0 / rank
    return 0.0


def dcg(gains: Sequence[float], k: int) -> float:
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains[:k], start=1) if g > 0)


def ndcg_at_k(gains: Sequence[float], ideal: Sequence[float], k: int) -> float:
    """DCG@k of the ranking over DCG@k of the best possible ranking of the `ideal` gains."""
    best = dcg(sorted(ideal, reverse=True), k)
    return dcg(gains, k) / best if best > 0 else 0.0


def recall(found: int, total: int) -> float:
    """Share of the relevant items that were retrieved (0 when there are none to find)."""
    return found / total if total else 0.0


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def share(flags: Sequence[bool]) -> float | None:
    """Fraction of true flags; None when there is nothing to count."""
    return sum(flags) / len(flags) if flags else None


def no_answer_accuracy(answerable: Sequence[bool], found: Sequence[bool]) -> float | None:
    """Share of unanswerable questions where the assistant said it found nothing."""
    return share([not f for a, f in zip(answerable, found, strict=True) if not a])


def false_abstention_rate(answerable: Sequence[bool], found: Sequence[bool]) -> float | None:
    """Share of answerable questions where the assistant wrongly said it found nothing."""
    return share([not f for a, f in zip(answerable, found, strict=True) if a])


def abstention_precision_recall(answerable: Sequence[bool], found: Sequence[bool]) -> tuple[float | None, float | None]:
    """Abstaining is the positive class: precision = right abstentions / abstentions, recall = / unanswerable."""
    abstained = [not a for a, f in zip(answerable, found, strict=True) if not f]
    unanswerable = [not f for a, f in zip(answerable, found, strict=True) if not a]
    return share(abstained), share(unanswerable)


def citation_precision(cited_relevant: Sequence[Sequence[bool]]) -> float | None:
    """Mean over answers of the share of their cited passages that are relevant (answers without citations skipped)."""
    return mean([sum(flags) / len(flags) for flags in cited_relevant if flags])


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
