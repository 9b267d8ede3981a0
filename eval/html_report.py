"""`assistant eval --report`: one self-contained HTML file (inline CSS and SVG, nothing fetched)."""

from __future__ import annotations

from html import escape
from typing import Any

from eval.compare import deltas
from eval.summary import ANSWER_METRICS, LATENCIES, RATES, REFUSAL_ROWS, answer_columns
from eval.svg import bar_chart

FAIL_TOP = 5
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:78em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.meta td{text-align:left}.bad{color:#b00020;font-weight:600}.good{color:#1b7a32}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{border:1px solid #eee;background:#fcfcfc}
.ct{font-size:12px;font-weight:600}.tick{font-size:10px;fill:#555}.na{font-size:8px;fill:#999;text-anchor:middle}
.axis{stroke:#999}details{border:1px solid #e3e3e3;border-radius:4px;margin:.4em 0;padding:.3em .7em}
summary{cursor:pointer}.why{color:#b00020}.q{font-weight:600}ol li{margin:.25em 0}
.rel{background:#e6f4ea}.src{color:#555;font-family:ui-monospace,monospace;font-size:12px}
blockquote{margin:.3em 0 .3em 1em;color:#333;border-left:3px solid #c9d7ea;padding-left:.6em}
"""


def _fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.0f}" if metric.endswith("_ms") else f"{value:.3f}"
    return escape(str(value))


def _row(cells: list[str], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _metric_table(run: dict[str, Any]) -> str:
    languages = list(run["per_language"])
    head = "".join(f"<th>{escape(lang)}</th>" for lang in ["all", *languages])
    rows = []
    for metric in ("questions", "ranked", "unanswerable", *RATES, *LATENCIES):
        cells = [run["overall"].get(metric)] + [run["per_language"][lang].get(metric) for lang in languages]
        rows.append(f"<tr><td>{metric}</td>" + "".join(f"<td>{_fmt(c, metric)}</td>" for c in cells) + "</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _answers_table(run: dict[str, Any]) -> str:
    """What the agent sees, as the console's answers table: all, same-language, cross-lingual, per language."""
    answers = run.get("answers")
    if not answers:
        return ""
    columns = answer_columns(answers)
    head = _row(["metric", *(escape(name) for name in columns)], "th")
    rows = [_row([metric, *(_fmt(c.get(metric), metric) for c in columns.values())]) for metric in ANSWER_METRICS]
    for key, label in REFUSAL_ROWS:
        if run.get(key):
            rows.append(_row([f"{label} ({run[key]['questions']})", _fmt(run[key]["abstained"])]))
    return f"<h3>Answers</h3><table>{head}{''.join(rows)}</table>"


def _charts(report: dict[str, Any]) -> str:
    modes = report["modes"]
    languages = sorted({lang for run in modes.values() for lang in run["per_language"]})
    groups = ["all", *languages]

    def values(run: dict[str, Any], metric: str) -> list[float | None]:
        return [run["overall"].get(metric)] + [run["per_language"].get(g, {}).get(metric) for g in languages]

    charts = [
        bar_chart(metric, groups, [(mode, values(run, metric)) for mode, run in modes.items()], 1.0) for metric in RATES
    ]
    charts += [
        bar_chart(metric, groups, [(mode, values(run, metric)) for mode, run in modes.items()], unit="ms")
        for metric in LATENCIES
    ]
    return '<div class="charts">' + "".join(charts) + "</div>"


def _calibration(report: dict[str, Any]) -> str:
    keys = ("threshold", "balanced_accuracy", "accuracy", "abstention_precision", "abstention_recall")
    rows = []
    for mode, cal in report.get("calibration", {}).items():
        for label in ("current", "suggested"):
            point = cal.get(label)
            cells = [_fmt(point[k]) for k in keys] if point else ["needs both kinds of question"] + [""] * 4
            rows.append(_row([escape(mode), label, *cells]))
    if not rows:
        return "<p>No mode produced abstention scores to calibrate.</p>"
    head = _row(["mode", "", "min_dense_score", "balanced acc.", "accuracy", "abst. precision", "abst. recall"], "th")
    return f"<table>{head}{''.join(rows)}</table>"


def _baseline(report: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> str:
    rows = []
    for d in deltas(report, baseline):
        css = "bad" if d.regressed(max_drop) else ("good" if d.drop < 0 else "")
        change = f'<span class="{css}">{d.current - d.baseline:+.3f}</span>'
        rows.append(_row([escape(d.mode), d.metric, _fmt(d.baseline), _fmt(d.current), change]))
    when = escape(str(baseline.get("created_at", "?")))
    version = escape(str(baseline.get("index_version", "?")))
    title = f"<p>Baseline from {when}, index {version}; drops over {max_drop} are red.</p>"
    head = _row(["mode", "metric", "baseline", "now", "change"], "th")
    return title + f"<table>{head}{''.join(rows)}</table>"


def failure_reasons(question: dict[str, Any]) -> list[str]:
    """Why a question counts as failed: no relevant passage in the top 5, or the wrong abstention."""
    reasons = []
    if question["recall_total"] and (question["first_relevant_rank"] or FAIL_TOP + 1) > FAIL_TOP:
        reasons.append(f"no relevant passage in the top {FAIL_TOP}")
    if question["answerable"] and not question["found"]:
        reasons.append("abstained on an answerable question")
    if not question["answerable"] and question["found"]:
        reasons.append("answered a question the knowledge base cannot answer")
    return reasons


def _question(question: dict[str, Any], reasons: list[str]) -> str:
    expected = (
        "".join(
            f'<li><span class="src">{escape(e.get("source", ""))}</span>'
            + (
                f"<blockquote>{escape(e['quote'])}</blockquote>"
                if e.get("quote")
                else f" (grade {escape(e.get('grade', ''))})"
            )
            + "</li>"
            for e in question["expected"]
        )
        or "<li>nothing: the knowledge base should not answer</li>"
    )
    retrieved = "".join(
        f'<li class="{"rel" if r["gain"] else ""}"><span class="src">{escape(r["source"])}</span> '
        f"{escape(r['text'])}</li>"
        for r in question["retrieved"][:FAIL_TOP]
    )
    rank = question["first_relevant_rank"] or ("none" if question["recall_total"] else "n/a")
    answer = f"<p><b>Answer</b> ({'found' if question['found'] else 'not found'}): {escape(question['answer'])}</p>"
    return (
        f'<details><summary><span class="q">{escape(question["id"])} [{escape(question["lang"])}]</span> '
        f'{escape(question["question"])} — <span class="why">{escape("; ".join(reasons))}</span></summary>'
        f"<p><b>Expected</b></p><ul>{expected}</ul>"
        f"<p><b>Retrieved</b> (top {FAIL_TOP}, relevant ones shaded; first relevant at rank {rank})</p>"
        f"<ol>{retrieved}</ol>{answer}</details>"
    )


def _failures(run: dict[str, Any]) -> str:
    failed = [(q, failure_reasons(q)) for q in run["questions"]]
    failed = [(q, r) for q, r in failed if r]
    if not failed:
        return "<p>No failed questions.</p>"
    return f"<p>{len(failed)} of {len(run['questions'])} questions failed.</p>" + "".join(
        _question(q, r) for q, r in failed
    )


def render(report: dict[str, Any], baseline: dict[str, Any] | None = None, max_drop: float = 0.02) -> str:
    """The whole page as one string."""
    settings = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in report["settings"].items())
    meta = (
        f"<table class=meta><tr><td>target</td><td>{escape(report['target'])}</td></tr>"
        f"<tr><td>index version</td><td>{escape(report['index_version'])}</td></tr>"
        f"<tr><td>model</td><td>{escape(report['model'])}</td></tr>"
        f"<tr><td>created</td><td>{escape(report['created_at'])}</td></tr>{settings}</table>"
    )
    sections = [
        f"<h1>Evaluation: {escape(report['target'])}</h1>",
        meta,
        "<h2>Metrics by language</h2>",
        _charts(report),
    ]
    if baseline is not None:
        sections += ["<h2>Change against the baseline</h2>", _baseline(report, baseline, max_drop)]
    sections += ["<h2>Abstention threshold</h2>", _calibration(report)]
    for mode, run in report["modes"].items():
        sections += [f"<h2>Mode: {escape(mode)}</h2>", _metric_table(run), _answers_table(run)]
        sections += ["<h3>Failed questions</h3>", _failures(run)]
    if report.get("notes"):
        sections += ["<h2>Notes</h2><ul>", *(f"<li>{escape(n)}</li>" for n in report["notes"]), "</ul>"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>Evaluation: {escape(report['target'])}</title><style>{_CSS}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )
