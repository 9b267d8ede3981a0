"""Compare a run with a baseline run (both in the `assistant eval --json` shape), metric by metric per mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eval.summary import ANSWER_HEADLINE, GUARDED, LOWER_IS_BETTER, RATES


@dataclass(frozen=True)
class Delta:
    """One overall metric of one mode in both runs; `drop` is how much worse it got (negative = better)."""

    mode: str
    metric: str
    baseline: float
    current: float

    @property
    def drop(self) -> float:
        change = self.current - self.baseline
        return change if self.metric in LOWER_IS_BETTER else -change

    def regressed(self, max_drop: float) -> bool:
        # A small epsilon keeps a drop of exactly max_drop (in rounded numbers) from failing.
        return self.metric in GUARDED and self.drop > max_drop + 1e-9


def _section(run: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        run = run.get(key) or {}
    return run


def deltas(current: dict[str, Any], baseline: dict[str, Any]) -> list[Delta]:
    """Every rate metric present in both runs for the modes both ran, the answer metrics included."""
    out = []
    for mode, run in current.get("modes", {}).items():
        previous = baseline.get("modes", {}).get(mode)
        if previous is None:
            continue
        compared = [(metric, ("overall",), metric) for metric in RATES] + list(ANSWER_HEADLINE)
        for name, path, key in compared:
            now, before = _section(run, path).get(key), _section(previous, path).get(key)
            if isinstance(now, int | float) and isinstance(before, int | float):
                out.append(Delta(mode, name, float(before), float(now)))
    return out


def regressions(current: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> list[Delta]:
    """The guarded metrics that got worse by more than `max_drop`."""
    return [d for d in deltas(current, baseline) if d.regressed(max_drop)]
