"""The last 30 days of a unit's compliance as a server-drawn SVG line chart: the share of active
venues and the share of quarantined persons who declared, 0 to 100 %, one point a day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from scantrace_console.svg import line, num, svg, text

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40
SERIES = (("active_ratio", "series-active"), ("declaration_ratio", "series-declared"))


def compliance_chart(days: Sequence[Mapping[str, Any]], label: str = "30 days") -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(days) - 1)
    body: list[str] = []
    for pct in (0, 25, 50, 75, 100):
        y = TOP + plot_h * (1 - pct / 100)
        body.append(line(LEFT, y, WIDTH - RIGHT, y, "grid"))
        body.append(text(LEFT - 6, y + 4, f"{pct}%", "axis", "end"))
    for index, day in enumerate(days):
        last = index == len(days) - 1
        if index % 5 == 0 or last:
            x = LEFT + index * step
            label = f"{str(day['date'])[8:10]}/{str(day['date'])[5:7]}"
            body.append(text(x, HEIGHT - BOTTOM + 16, label, "axis", "end" if last else "middle"))
    for key, cls in SERIES:
        points = [
            (LEFT + i * step, TOP + plot_h * (1 - float(d[key])))
            for i, d in enumerate(days)
            if d.get(key) is not None
        ]
        if points:
            coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
            body.append(f'<polyline points="{coords}" class="{cls}"/>')
            body.extend(
                f'<circle cx="{num(x)}" cy="{num(y)}" r="2.5" class="{cls}-dot"/>'
                for x, y in points
            )
    return svg(WIDTH, HEIGHT, body, label, "chart")
