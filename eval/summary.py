"""Per-mode metric tables: every metric over all questions and per question language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval import metrics
from eval.runner import SEARCH_K, QuestionResult

# Metrics a baseline comparison guards; the others are context.
HEADLINE = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "recall@100", "no_answer_accuracy", "citation_precision")
LOWER_IS_BETTER = ("false_abstention_rate",)
# What the agent sees, guarded too: (metric name in a comparison, section of the run, key in it).
ANSWER_HEADLINE = (
    ("answer_hit", ("answers", "overall"), "answer_hit"),
    ("highlight_hit", ("answers", "overall"), "highlight_hit"),
    ("negatives_abstained", ("negatives",), "abstained"),
    ("withheld_abstained", ("withheld",), "abstained"),
)
GUARDED = HEADLINE + LOWER_IS_BETTER + tuple(name for name, _, _ in ANSWER_HEADLINE)
RATES = (*HEADLINE, "false_abstention_rate", "abstention_precision", "abstention_recall")
# The answer metrics a report shows per column (all, same-language, cross-lingual, per language).
ANSWER_METRICS = ("questions", "answer_hit", "answer_hit_ratio", "highlight_hit", "false_abstention_rate")
# The questions that must get "not found", as reports label them.
REFUSAL_ROWS = (("negatives", "negatives abstained"), ("withheld", "withheld gold abstained"))
LATENCIES = ("ask_p50_ms", "ask_p95_ms", "search_p50_ms", "search_p95_ms")


def gains_of(result: QuestionResult, depth: int = SEARCH_K) -> list[float]:
    """The dense gain list of a question's ranking, rebuilt from its relevant ranks."""
    gains = [0.0] * depth
    for rank, gain in result.relevant_ranks:
        if rank <= depth:
            gains[rank - 1] = gain
    return gains


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarize(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Metrics over `results`; ranking metrics only count questions that have relevant items.

    Keys: questions, ranked (questions with relevant items), unanswerable, answered, the RATES and
    the LATENCIES. A metric with nothing to count (e.g. no unanswerable questions) is None.
    """
    ranked = [r for r in results if r.recall_total > 0]
    gains = [gains_of(r) for r in ranked]
    answerable = [r.answerable for r in results]
    found = [r.found for r in results]
    precision, recall = metrics.abstention_precision_recall(answerable, found)
    cited = [[c["relevant"] for c in r.cited] for r in results if r.answerable and r.found]
    out: dict[str, Any] = {
        "questions": len(results),
        "ranked": len(ranked),
        "unanswerable": sum(1 for a in answerable if not a),
        "answered": sum(found),
        "hit@1": metrics.mean([metrics.hit_at_k(g, 1) for g in gains]),
        "hit@5": metrics.mean([metrics.hit_at_k(g, 5) for g in gains]),
        "mrr@10": metrics.mean([metrics.reciprocal_rank(g, 10) for g in gains]),
        "ndcg@10": metrics.mean([metrics.ndcg_at_k(g, r.ideal_gains, 10) for g, r in zip(gains, ranked, strict=True)]),
        "recall@100": metrics.mean([metrics.recall(r.recall_found, r.recall_total) for r in ranked]),
        "no_answer_accuracy": metrics.no_answer_accuracy(answerable, found),
        "false_abstention_rate": metrics.false_abstention_rate(answerable, found),
        "abstention_precision": precision,
        "abstention_recall": recall,
        "citation_precision": metrics.citation_precision(cited),
        "ask_p50_ms": metrics.percentile([r.ask_ms for r in results], 50),
        "ask_p95_ms": metrics.percentile([r.ask_ms for r in results], 95),
        "search_p50_ms": metrics.percentile([r.search_ms for r in results], 50),
        "search_p95_ms": metrics.percentile([r.search_ms for r in results], 95),
    }
    return {k: _round(v) if isinstance(v, float) else v for k, v in out.items()}


def answer_metrics(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """What the agent sees, over answerable questions with gold: answer hit (a cited passage holds the
    gold), its ratio to retrieval hit@5, highlight hit (the highlight overlaps the gold quote, where
    quotes are known) and false abstention; negatives are kept apart."""
    ranked = [r for r in results if r.answerable and r.recall_total > 0 and not r.negative]
    hit5 = metrics.mean([metrics.hit_at_k(gains_of(r), 5) for r in ranked])
    answer_hit = metrics.share([bool(r.answer_hit) for r in ranked])
    highlights = [r.highlight_hit for r in ranked if r.highlight_hit is not None]
    out = {
        "questions": len(ranked),
        "answer_hit": answer_hit,
        "answer_hit_ratio": answer_hit / hit5 if answer_hit is not None and hit5 else None,
        "highlight_hit": metrics.share([bool(h) for h in highlights]),
        "highlight_judged": len(highlights),
        "false_abstention_rate": metrics.share([not r.found for r in ranked]),
    }
    return {k: _round(v) if isinstance(v, float) else v for k, v in out.items()}


def _abstained(questions: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """Questions that must get "not found": how many, and the share that did, overall and per language."""
    if not questions:
        return None
    languages = sorted({r.lang for r in questions})
    return {
        "questions": len(questions),
        "abstained": _round(metrics.share([not r.found for r in questions])),
        "per_language": {
            lang: _round(metrics.share([not r.found for r in questions if r.lang == lang])) for lang in languages
        },
    }


def negatives_metrics(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """Questions written for another collection: the share the assistant rightly abstained on."""
    return _abstained([r for r in results if r.negative])


def withheld_metrics(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """The collection's own questions asked with their answering passages withheld (near-topic, unanswerable)."""
    return _abstained([r for r in results if r.withheld])


def answer_columns(answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's `answers` as the columns a report shows: all, same language, cross-lingual, each language."""
    columns = {"all": answers["overall"], "same language": answers["same_language"]}
    return columns | {"cross-lingual": answers["cross_lingual"], **answers["per_language"]}


def summarize_mode(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """{"overall", "per_language", "answers", "negatives", "withheld", "questions"} for one mode (the JSON output).

    `answers` splits the answer metrics overall, per language, and into same-language and
    cross-lingual questions; negatives and withheld questions never enter the other metrics.
    """
    own = [r for r in results if not (r.negative or r.withheld)]
    languages = sorted({r.lang for r in own})
    return {
        "overall": summarize(own),
        "per_language": {lang: summarize([r for r in own if r.lang == lang]) for lang in languages},
        "answers": {
            "overall": answer_metrics(own),
            "same_language": answer_metrics([r for r in own if r.cross_lingual is False]),
            "cross_lingual": answer_metrics([r for r in own if r.cross_lingual]),
            "per_language": {lang: answer_metrics([r for r in own if r.lang == lang]) for lang in languages},
        },
        "negatives": negatives_metrics(results),
        "withheld": withheld_metrics(results),
        "questions": [r.to_dict() for r in results],
    }
