"""A person's visits on a timeline (server-drawn SVG): one row per venue, a bar per visit, the
time along the bottom in SCANTRACE_TZ; each bar's tooltip says when.

The axis spans the visits (an hour either side) within the asked window, so that a morning's
visits are bars, not hairlines on a fortnight: days are marked when it covers several days,
hours when it covers less than two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from scantrace_common.timeparse import parse_time
from scantrace_console.svg import line, num, svg, text

WIDTH, ROW, LEFT, RIGHT, TOP, BOTTOM = 760, 26, 150, 16, 8, 34
MAX_ROWS = 20
HOUR_MS = 3_600_000


def _ticks(t0: int, t1: int, zone: ZoneInfo) -> list[tuple[int, str]]:
    """(instant, label) of the axis: whole local hours or local midnights, at most ~12."""
    span_h = (t1 - t0) / HOUR_MS
    start = datetime.fromtimestamp(t0 / 1000, tz=UTC).astimezone(zone)
    if span_h <= 48:
        step_h = next(s for s in (1, 2, 3, 4, 6, 12) if span_h / s <= 12)
        tick = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        pattern, step = "%H:%M", timedelta(hours=step_h)
    else:
        days = span_h / 24
        step_d = next((s for s in (1, 2, 3, 7) if days / s <= 12), 14)
        tick = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        pattern, step = "%d/%m", timedelta(days=step_d)
    ticks: list[tuple[int, str]] = []
    while tick.timestamp() * 1000 < t1 and len(ticks) < 40:
        ticks.append((int(tick.timestamp() * 1000), tick.strftime(pattern)))
        # local midnights: normalise after the step (a zone's offset may change)
        tick = (tick + step).astimezone(zone)
    return ticks


def visits_timeline(
    visits: Sequence[Mapping[str, Any]], start: str, end: str, tz: str, label: str = "timeline"
) -> Markup:
    zone = ZoneInfo(tz)
    t0, t1 = parse_time(start), parse_time(end)
    if visits:
        t0 = max(t0, min(parse_time(v["start"]) for v in visits) - HOUR_MS)
        t1 = min(t1, max(parse_time(v["end"]) for v in visits) + HOUR_MS)
    venues = list(dict.fromkeys(v["venue_id"] for v in visits))[:MAX_ROWS]
    height = TOP + ROW * max(1, len(venues)) + BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    span = max(1, t1 - t0)

    def x_of(ms: int) -> float:
        return LEFT + plot_w * (min(max(ms, t0), t1) - t0) / span

    body: list[str] = []
    for instant, tick in _ticks(t0, t1, zone):
        x = x_of(instant)
        body.append(line(x, TOP, x, height - BOTTOM, "grid"))
        body.append(text(x, height - BOTTOM + 14, tick, "axis", "middle"))
    day = datetime.fromtimestamp(t0 / 1000, tz=zone).strftime("%d/%m/%Y")
    body.append(text(LEFT - 6, height - BOTTOM + 14, day, "axis", "end"))
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
                f'height="{ROW - 10}" class="visit"><title>{escape(venue)}: {escape(when)}</title>'
                "</rect>"
            )
    return svg(WIDTH, height, body, label, "timeline")
