"""Replay the "not found" decision from eval reports with other estimates of the off-topic null.

Usage: .venv/bin/python -m benchmarks.abstention_replay NAME=INDEX_DIR:EVAL_JSON [NAME=INDEX_DIR:EVAL_JSON ...]
       [--thresholds 2.25,2.5,2.75,3.0]
EVAL_JSON is `assistant eval ... --json` output for the index at INDEX_DIR (a BEIR set's index is
under ASSISTANT_CACHE_DIR/beir/<set>-.../index). The off-topic bank is asked of each index again, as
ingest does (its query vectors come from the embedding cache), and each estimator of the null's
centre and spread is put into the product's own `confidence` rule, with every question's recorded
evidence. "mean" is the product's estimator; its row reproduces the eval reports.
Prints one row per estimator and threshold: false abstention, unanswerable refused, negatives refused.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.answer import confidence
from assistant.components import build_cache, build_embedder
from assistant.settings import Settings
from ingest.calibration import (
    EVIDENCE_POOL,
    SIGNALS,
    Evidence,
    NullStats,
    _evidence,
    _sentence_shift,
    _sentences_by_language,
    _shift_by_passage,
    off_topic_bank,
)
from ingest.embedding_cache import embed_queries_with_cache
from ingest.store.layout import IndexStore


def bank_evidence(index_dir: Path, settings: Settings) -> list[Evidence]:
    """The off-topic bank's evidence on one index, measured exactly as `ingest.calibration.calibrate` does."""
    embedder, cache = build_embedder(settings), build_cache(settings)
    loaded = IndexStore(index_dir).load()
    languages = {i: c.language for i, c in loaded.chunks.items()}
    by_language = _sentences_by_language(loaded.sentences, languages)
    out = []
    for language, questions in off_topic_bank().items():
        if language not in settings.languages:
            continue
        queries = embed_queries_with_cache(embedder, cache, questions)
        shift_of = _shift_by_passage(_sentence_shift(queries, language, by_language), languages)
        for query, (ids, scores) in zip(queries, loaded.vectors.search_many(queries, EVIDENCE_POOL), strict=True):
            evidence = _evidence(query, ids, scores, loaded.sentences, shift_of)
            if evidence is not None:
                out.append(evidence)
    return out


def _trimmed(keep: float) -> Callable[[np.ndarray], tuple[float, float]]:
    def estimate(values: np.ndarray) -> tuple[float, float]:
        kept = values[values <= np.quantile(values, keep)]
        return float(kept.mean()), float(kept.std())

    return estimate


def _median(values: np.ndarray) -> tuple[float, float]:
    centre = float(np.median(values))
    return centre, float(1.4826 * np.median(np.abs(values - centre)))


# Centre and spread of one signal over the bank. The trimmed ones drop the bank's strongest questions:
# on an encyclopedic collection some "off-topic" questions are answered by it.
ESTIMATORS: dict[str, Callable[[np.ndarray], tuple[float, float]]] = {
    "mean": lambda v: (float(v.mean()), float(v.std())),
    "median/MAD": _median,
    "trimmed 10%": _trimmed(0.9),
    "trimmed 20%": _trimmed(0.8),
}


def null_of(bank: list[Evidence], estimator: Callable[[np.ndarray], tuple[float, float]]) -> NullStats:
    centre, spread = {}, {}
    for signal in SIGNALS:
        centre[signal], spread[signal] = estimator(np.array([e.value(signal) for e in bank]))
    return NullStats(len(bank), centre, spread, {})


def recorded(eval_json: Path) -> dict[str, list[Evidence]]:
    """The evidence the eval recorded per question, grouped as answerable, unanswerable and negative."""
    report = json.loads(eval_json.read_text(encoding="utf-8"))
    run = report["modes"].get("hybrid") or next(iter(report["modes"].values()))
    groups: dict[str, list[Evidence]] = {"answerable": [], "unanswerable": [], "negative": []}
    for question in run["questions"]:
        if question.get("evidence") is None:
            continue
        group = "negative" if question.get("negative") else "answerable" if question["answerable"] else "unanswerable"
        groups[group].append(Evidence(**question["evidence"]))
    return groups


def _refused(evidence: list[Evidence], null: NullStats, threshold: float) -> str:
    if not evidence:
        return "–"
    return f"{np.mean([confidence(e, null) < threshold for e in evidence]):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="NAME=INDEX_DIR:EVAL_JSON")
    parser.add_argument("--thresholds", default="2.25,2.5,2.75,3.0")
    args = parser.parse_args()
    settings = Settings()
    collections = []
    for spec in args.sets:
        name, paths = spec.split("=", 1)
        index_dir, eval_json = paths.split(":", 1)
        collections.append((name, bank_evidence(Path(index_dir), settings), recorded(Path(eval_json))))
    names = " | ".join(f"{name}: false abstention / unanswerable / negatives refused" for name, _, _ in collections)
    print(f"| null estimator | threshold | {names} |")
    print("|---|---:|" + "---|" * len(collections))
    for label, estimator in ESTIMATORS.items():
        for threshold in (float(t) for t in args.thresholds.split(",")):
            cells = []
            for _, bank, groups in collections:
                null = null_of(bank, estimator)
                cells.append(" / ".join(_refused(groups[g], null, threshold) for g in groups))
            print(f"| {label} | {threshold:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
