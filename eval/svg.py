"""Grouped bar charts as inline SVG strings: no scripts, no fonts or images fetched."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#3b6ea5", "#e0893a", "#4f9a5a", "#9b59b6", "#c0392b")
_BAR, _GAP, _LEFT, _TOP, _HEIGHT = 16, 18, 36, 22, 120


def _label(value: float, unit: str) -> str:
    return f"{value:.0f}" if unit == "ms" else f"{value:.2f}"


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    maximum: float | None = None,
    unit: str = "",
) -> str:
    """Bars for each group (e.g. languages), one per series (e.g. retrieval modes); None draws "n/a"."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = maximum if maximum is not None else max(values, default=1.0) or 1.0
    group_width = len(series) * _BAR + _GAP
    width = _LEFT + len(groups) * group_width + 10
    height = _TOP + _HEIGHT + 40
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="14" class="ct">{escape(title)}</text>',
        f'<line x1="{_LEFT - 4}" y1="{_TOP + _HEIGHT}" x2="{width - 6}" y2="{_TOP + _HEIGHT}" class="axis"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" class="tick" text-anchor="end">{_label(top, unit)}</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + _HEIGHT}" class="tick" text-anchor="end">0</text>',
    ]
    for g, group in enumerate(groups):
        x0 = _LEFT + g * group_width
        for s, (name, vs) in enumerate(series):
            value, x = vs[g], x0 + s * _BAR
            color = PALETTE[s % len(PALETTE)]
            if value is None:
                parts.append(f'<text x="{x + _BAR / 2}" y="{_TOP + _HEIGHT - 3}" class="na">n/a</text>')
                continue
            h = max(0.0, min(value / top, 1.0)) * _HEIGHT
            y = _TOP + _HEIGHT - h
            parts.append(
                f'<rect x="{x + 1}" y="{y:.1f}" width="{_BAR - 2}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(name)} · {escape(group)}: {_label(value, unit)}</title></rect>"
            )
        label_x = x0 + len(series) * _BAR / 2
        parts.append(
            f'<text x="{label_x}" y="{_TOP + _HEIGHT + 14}" class="tick" text-anchor="middle">{escape(group)}</text>'
        )
    for s, (name, _) in enumerate(series):
        x = _LEFT + s * 70
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 5}" class="tick">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
