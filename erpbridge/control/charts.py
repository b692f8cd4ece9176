"""Small server-rendered SVG line charts of the KPIs over time (the overview's), with their
target as a dashed line: numbers in, markup out, no script and no chart library.

Only numbers and the caller's fixed labels reach the markup (labels are escaped), so the result
is safe to embed as it is.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from markupsafe import Markup

from erpbridge.control import kpis

WIDTH, HEIGHT, PAD = 320, 90, 4


def line_chart(label: str, unit: str, points: list[tuple[dt.datetime, float | None]], target: float | None,
               since: dt.datetime, until: dt.datetime) -> Markup:
    """An SVG of ``points`` between ``since`` and ``until`` (gaps where a value is None), scaled
    to the largest value or the target, whichever is higher."""
    values = [v for _, v in points if v is not None]
    top = max(values + ([target] if target is not None else []) + [0]) or 1
    span = (until - since).total_seconds() or 1

    def x(at: dt.datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * min(1, max(0, (at - since).total_seconds() / span))

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / (top * 1.1)

    lines, current = [], []
    for at, value in points:
        if value is None:
            lines, current = lines + ([current] if current else []), []
        else:
            current.append(f"{x(at):.1f},{y(value):.1f}")
    lines += [current] if current else []
    last = f"{values[-1]:.4g}{unit}" if values else "no data"
    title = escape(f"{label}: now {last}" + (f", target {target:g}{unit}" if target is not None else ""))
    parts = [f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fafafa" stroke="#ddd"/>']
    if target is not None:
        parts.append(f'<line class="target" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="#c0392b" stroke-dasharray="4 3"/>')
    for line in lines:
        if len(line) == 1:
            cx, cy = line[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="#2c6fbb"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="#2c6fbb" stroke-width="1.5" points="{" ".join(line)}"/>')
    parts.append(f'<text x="{PAD + 2}" y="12" font-size="10" fill="#555">{escape(label)}: {escape(last)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def kpi_charts(hub, figures: dict, hours: float, now: dt.datetime | None = None) -> list[Markup]:
    """One chart per charted KPI over the last ``hours``, with the targets of ``figures``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    history = kpis.history(hub, hours, now)
    return [line_chart(label, unit, history[name], target(figures), now - dt.timedelta(hours=hours), now)
            for name, (label, unit, _, target) in kpis.CHARTED.items()]
