"""How far can "not found" go on the signals the answer rule has? Reads `assistant eval --json` reports.

Usage: .venv/bin/python -m benchmarks.abstention_ceiling NAME=EVAL_JSON [NAME=EVAL_JSON ...] [--samples 20000]
Run the evals with `--withhold N` (and `--negatives ...`) first. Per report: the withheld-gold questions
the product's rule refuses, its false abstention, how well its confidence separates answerable from
withheld questions (ROC AUC), and the most any threshold on that confidence could refuse at 5% and 10%
false abstention: a per-collection oracle, so an upper bound for any calibration of this one score.
Then over all reports at once: the best non-negative weighting of the rule's four signals (seeded
random search), scored by the gap between the highest threshold that every set's 5% false abstention
allows and the lowest that every refusal target (90% of negatives, of unanswerable and, in the second
search, of withheld questions) demands. A negative gap means no weighting meets every target.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import CONFIDENCE_WEIGHTS, COVERAGE_WEIGHT, MIN_SPREAD

SIGNALS = tuple(CONFIDENCE_WEIGHTS)
PRODUCT_WEIGHTS = np.array([*CONFIDENCE_WEIGHTS.values(), COVERAGE_WEIGHT])
MAX_FALSE_ABSTENTION = 0.05
MIN_REFUSED = 0.90


def features(question: dict[str, Any]) -> list[float] | None:
    """The rule's inputs: each signal in null spreads above the null's mean, then raw keyword coverage."""
    evidence, mean, std = question.get("evidence"), question.get("null_mean"), question.get("null_std")
    if not (evidence and mean and std):
        return None
    z = [(evidence[s] - mean[s]) / max(std[s], MIN_SPREAD[s]) for s in SIGNALS]
    return [*z, evidence["coverage"]]


def groups(report: dict[str, Any]) -> dict[str, np.ndarray]:
    """answerable (with gold), negatives, unanswerable and withheld questions of the hybrid run, as feature rows."""
    rows: dict[str, list[list[float]]] = {"answerable": [], "negatives": [], "unanswerable": [], "withheld": []}
    for question in report["modes"]["hybrid"]["questions"]:
        row = features(question)
        if row is None:
            continue
        if question.get("withheld"):
            rows["withheld"].append(row)
        elif question["negative"]:
            rows["negatives"].append(row)
        elif not question["answerable"]:
            rows["unanswerable"].append(row)
        elif question["recall_total"] > 0:
            rows["answerable"].append(row)
    return {k: np.array(v, dtype=float).reshape(-1, len(SIGNALS) + 1) for k, v in rows.items()}


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that an answerable question outscores a withheld one (ties count half)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


def per_set(name: str, sets: dict[str, np.ndarray], threshold: float) -> str:
    answerable, withheld = sets["answerable"] @ PRODUCT_WEIGHTS, sets["withheld"] @ PRODUCT_WEIGHTS
    if not len(answerable) or not len(withheld):
        return f"| {name} | {len(withheld)} | – | – | – | – | – |"
    ceilings = [float((withheld < np.quantile(answerable, fa)).mean()) for fa in (0.05, 0.10)]
    return (
        f"| {name} | {len(withheld)} | {(withheld < threshold).mean():.3f} | {(answerable < threshold).mean():.3f} "
        f"| {auc(answerable, withheld):.3f} | {ceilings[0]:.2f} | {ceilings[1]:.2f} |"
    )


def gap(weights: np.ndarray, data: dict[str, dict[str, np.ndarray]], refusals: tuple[str, ...]) -> float:
    """Highest threshold the false-abstention targets allow minus the lowest the refusal targets demand."""
    answerable = [s["answerable"] @ weights for s in data.values() if len(s["answerable"])]
    refused = [s[group] @ weights for s in data.values() for group in refusals if len(s[group])]
    allowed = min(float(np.quantile(scores, MAX_FALSE_ABSTENTION)) for scores in answerable)
    demanded = max(float(np.quantile(scores, MIN_REFUSED)) for scores in refused)
    return allowed - demanded


def best_weighting(
    data: dict[str, dict[str, np.ndarray]], refusals: tuple[str, ...], samples: int
) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(0)
    best = (gap(PRODUCT_WEIGHTS, data, refusals), PRODUCT_WEIGHTS)
    for _ in range(samples):
        # Scale does not matter (the threshold follows); coverage is drawn on a wider range, as it is raw.
        weights = np.abs(rng.normal(size=len(SIGNALS) + 1)) * np.array([1.0] * len(SIGNALS) + [4.0])
        weights /= weights[: len(SIGNALS)].sum()
        found = gap(weights, data, refusals)
        if found > best[0]:
            best = (found, weights)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="NAME=EVAL_JSON")
    parser.add_argument("--samples", type=int, default=20000, help="weightings tried in the search")
    args = parser.parse_args()
    data, threshold = {}, 0.0
    for spec in args.reports:
        name, path = spec.split("=", 1)
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        data[name] = groups(report)
        threshold = float(report["settings"]["min_confidence"])
    print(
        "| set | withheld questions | refused (rule) | false abstention (rule) | AUC "
        "| best refused at 5% FA | at 10% FA |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, sets in data.items():
        print(per_set(name, sets, threshold))
    for refusals in (("negatives", "unanswerable"), ("negatives", "unanswerable", "withheld")):
        found, weights = best_weighting(data, refusals, args.samples)
        product = gap(PRODUCT_WEIGHTS, data, refusals)
        print(
            f"targets on {', '.join(refusals)}: product weights gap {product:.3f}; best gap {found:.3f} at weights "
            f"{dict(zip([*SIGNALS, 'coverage'], np.round(weights, 3).tolist(), strict=True))}"
        )


if __name__ == "__main__":
    main()
