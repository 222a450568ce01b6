"""A person's visits on a timeline (server-drawn SVG): one row per venue, a bar per visit, the
days of the window along the bottom in SCANTRACE_TZ; each bar's tooltip says when."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from scantrace_common.timeparse import parse_time
from scantrace_console.svg import line, num, svg, text

WIDTH, ROW, LEFT, RIGHT, TOP, BOTTOM = 760, 26, 150, 12, 8, 34
MAX_ROWS = 20


def visits_timeline(
    visits: Sequence[Mapping[str, Any]], start: str, end: str, tz: str, label: str = "timeline"
) -> Markup:
    t0, t1 = parse_time(start), parse_time(end)
    venues = list(dict.fromkeys(v["venue_id"] for v in visits))[:MAX_ROWS]
    height = TOP + ROW * max(1, len(venues)) + BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    span = max(1, t1 - t0)

    def x_of(ms: int) -> float:
        return LEFT + plot_w * (min(max(ms, t0), t1) - t0) / span

    body: list[str] = []
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(t0 / 1000, tz=UTC).astimezone(zone).replace(hour=0, minute=0)
    days = 0
    while day.timestamp() * 1000 <= t1 and days < 40:
        x = x_of(int(day.timestamp() * 1000))
        body.append(line(x, TOP, x, height - BOTTOM, "grid"))
        if days % max(1, (span // 86_400_000) // 7 + 1) == 0:
            body.append(text(x + 2, height - BOTTOM + 14, day.strftime("%d/%m"), "axis"))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)
        days += 1
    for row, venue in enumerate(venues):
        y = TOP + row * ROW
        body.append(text(LEFT - 6, y + ROW * 0.65, venue, "axis", "end"))
        for visit in visits:
            if visit["venue_id"] != venue:
                continue
            a, b = parse_time(visit["start"]), parse_time(visit["end"])
            x1, x2 = x_of(a), x_of(b)
            when = (
                datetime.fromtimestamp(a / 1000, tz=zone).strftime("%d/%m %H:%M")
                + " – "
                + datetime.fromtimestamp(b / 1000, tz=zone).strftime("%H:%M")
            )
            body.append(
                f'<rect x="{num(x1)}" y="{num(y + 5)}" width="{num(max(2.0, x2 - x1))}" '
                f'height="{ROW - 10}" class="visit"><title>{escape(venue)}: {escape(when)}</title></rect>'
            )
    return svg(WIDTH, height, body, label, "timeline")
