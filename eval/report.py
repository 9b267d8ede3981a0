"""The `assistant eval --json` document: settings, per-mode metrics and questions, calibration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eval.calibrate import calibration_report
from eval.runner import QuestionResult
from eval.summary import summarize_mode


def calibrations(runs: Mapping[str, Sequence[QuestionResult]], current: float) -> dict[str, Any]:
    """Threshold calibration per mode that produces abstention scores (bm25 alone has none to threshold)."""
    out = {}
    for mode, results in runs.items():
        scores = [r.abstention_score for r in results]
        if any(s is not None for s in scores):
            out[mode] = calibration_report(scores, [r.answerable for r in results], current)
    return out


def build_report(
    target: str,
    index_version: str,
    model: str,
    settings: dict[str, Any],
    runs: Mapping[str, Sequence[QuestionResult]],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """One JSON-ready object; calibration compares against the active threshold: `settings["min_dense_score"]`
    when an operator fixed one, else `settings["min_confidence"]` (adaptive abstention)."""
    fixed = settings.get("min_dense_score")
    current = float(fixed if fixed is not None else settings["min_confidence"])
    return {
        "target": target,
        "index_version": index_version,
        "model": model,
        "settings": settings,
        "modes": {mode: summarize_mode(results) for mode, results in runs.items()},
        "calibration": calibrations(runs, current),
        "notes": list(notes),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
