"""Rich renderables for `assistant eval`: a metric table per mode and the calibration lines (the CLI prints them)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from eval.compare import Delta
from eval.summary import ANSWER_METRICS, LATENCIES, RATES, REFUSAL_ROWS, answer_columns


def _cell(value: Any, metric: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f}" if metric.endswith("_ms") else f"{value:.3f}"
    return str(value)


def mode_table(mode: str, run: dict[str, Any]) -> Table:
    """Metrics of one mode: overall and one column per question language."""
    languages = list(run["per_language"])
    table = Table(title=f"mode: {mode}")
    table.add_column("metric")
    for column in ["all", *languages]:
        table.add_column(column, justify="right")
    for metric in ("questions", "ranked", "unanswerable", *RATES, *LATENCIES):
        values = [run["overall"].get(metric)] + [run["per_language"][lang].get(metric) for lang in languages]
        table.add_row(metric, *(_cell(v, metric) for v in values))
    return table


def answers_table(mode: str, run: dict[str, Any]) -> Table | None:
    """What the agent sees: answer and highlight hits, false abstention; same-language vs cross-lingual;
    negatives and withheld-gold questions."""
    answers = run.get("answers")
    if not answers:
        return None
    columns = answer_columns(answers)
    table = Table(title=f"answers: {mode}")
    table.add_column("metric")
    for column in columns:
        table.add_column(column, justify="right")
    for metric in ANSWER_METRICS:
        table.add_row(metric, *(_cell(c.get(metric), metric) for c in columns.values()))
    for key, label in REFUSAL_ROWS:
        refusals = run.get(key)
        if refusals:
            table.add_row(label, _cell(refusals["abstained"], ""), *([""] * (len(columns) - 1)))
    return table


def calibration_lines(report: dict[str, Any]) -> list[str]:
    """One line per mode: the current threshold's abstention numbers and the suggested threshold's."""
    lines = []
    for mode, cal in report.get("calibration", {}).items():
        current, suggested = cal["current"], cal["suggested"]
        line = (
            f"calibration ({mode}): {report['settings'].get('threshold_name', 'min_dense_score')} "
            f"{current['threshold']:.3f} gives balanced accuracy "
            f"{_cell(current['balanced_accuracy'], '')}, abstention precision "
            f"{_cell(current['abstention_precision'], '')} / recall {_cell(current['abstention_recall'], '')}"
        )
        if suggested is None:
            line += "; no suggestion (needs answerable and unanswerable questions)"
        else:
            line += (
                f"; suggested {suggested['threshold']:.3f} gives {_cell(suggested['balanced_accuracy'], '')}, "
                f"precision {_cell(suggested['abstention_precision'], '')} / "
                f"recall {_cell(suggested['abstention_recall'], '')}"
            )
        lines.append(line)
    return lines


def regression_lines(found: list[Delta], max_drop: float) -> list[str]:
    return [
        f"regression in {d.mode}: {d.metric} {d.baseline:.3f} -> {d.current:.3f} (worse by {d.drop:.3f} > {max_drop})"
        for d in found
    ]


KINDS = ("first", "follow_up", "topic_switch", "later")


def conversation_tables(report: dict[str, Any]) -> list[Table]:
    """hit@5 of each strategy on first turns, follow-ups and topic switches; one table per split."""
    tables = []
    for split, strategies in report["summary"].items():
        table = Table(title=f"conversations: {split} ({report['dialogues']} dialogues in the set)")
        table.add_column("strategy")
        for column in (*KINDS, "later / first"):
            table.add_column(column, justify="right")
        for strategy, run in strategies.items():
            cells = [f"{_cell(run[k]['hit@5'], 'hit')} ({run[k]['turns']})" for k in KINDS]
            table.add_row(strategy, *cells, _cell(run["later_vs_first"], "ratio"))
        tables.append(table)
    return tables
