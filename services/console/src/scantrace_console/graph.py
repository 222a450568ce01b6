"""Exposures as a graph a person can read (server-drawn SVG): the case in the centre, its F1
contacts on a ring around it, each F2 outside, next to the F1 it came through (`via`).

Edges are labelled with venues and minutes: each case-F1 edge with its own, and the F2 fanning out
of one F1 with one label for the fan (their venues, and the range of their minutes), which stays
legible where a market's F1 has dozens of F2 at the same stall. Only the strongest contacts are
drawn (by minutes); the table under the graph lists them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from markupsafe import Markup

from scantrace_console.svg import line, num, svg, text

WIDTH, HEIGHT = 900, 760
CX, CY, R1, R2 = WIDTH / 2, HEIGHT / 2, 175, 320
MAX_F1: Final = 12
MAX_F2_PER_F1: Final = 3

Contact = Mapping[str, Any]


def _venues(contacts: Sequence[Contact]) -> str:
    venues = sorted({v for c in contacts for v in c.get("venues", [])})
    return ", ".join(venues[:2]) + (" …" if len(venues) > 2 else "")


def edge_label(contact: Contact) -> str:
    return f"{_venues([contact])} · {contact['total_overlap_minutes']} min"


def fan_label(contacts: Sequence[Contact]) -> str:
    minutes = sorted(int(c["total_overlap_minutes"]) for c in contacts)
    span = f"{minutes[0]}" if minutes[0] == minutes[-1] else f"{minutes[0]}–{minutes[-1]}"
    return f"{_venues(contacts)} · {span} min"


def _outward(angle: float) -> str:
    """Text anchor that makes a label grow away from the centre."""
    return "start" if math.cos(angle) > 0.3 else "end" if math.cos(angle) < -0.3 else "middle"


def _node(x: float, y: float, label: str, cls: str, radius: float, angle: float | None) -> str:
    if angle is None:  # below the node
        caption = text(x, y + radius + 12, label, "node-label", "middle")
    else:  # beyond the node, away from the centre
        lx, ly = x + (radius + 4) * math.cos(angle), y + (radius + 4) * math.sin(angle) + 4
        caption = text(lx, ly, label, "node-label", _outward(angle))
    return (
        f'<g class="node {cls}"><circle cx="{num(x)}" cy="{num(y)}" r="{num(radius)}"/>'
        f"{caption}</g>"
    )


def _strongest(contacts: Sequence[Contact], limit: int) -> list[Contact]:
    return sorted(contacts, key=lambda c: -int(c["total_overlap_minutes"]))[:limit]


def exposure_graph(case_id: str, contacts: Sequence[Contact], label: str = "exposures") -> Markup:
    f1 = _strongest([c for c in contacts if c["depth"] == 1], MAX_F1)
    by_via: dict[str, list[Contact]] = {}
    for contact in contacts:
        if contact["depth"] == 2 and contact.get("via"):
            by_via.setdefault(str(contact["via"]), []).append(contact)
    edges: list[str] = []
    labels: list[str] = []
    nodes: list[str] = []
    slot = 2 * math.pi / max(1, len(f1))
    for index, first in enumerate(f1):
        angle = -math.pi / 2 + index * slot
        x, y = CX + R1 * math.cos(angle), CY + R1 * math.sin(angle)
        edges.append(line(CX, CY, x, y, "edge f1-edge"))
        lx, ly = CX + 0.62 * R1 * math.cos(angle), CY + 0.62 * R1 * math.sin(angle)
        labels.append(text(lx, ly, edge_label(first), "edge-label", "middle"))
        nodes.append(_node(x, y, str(first["person_id"]), "f1", 10, None))
        fan = _strongest(by_via.get(str(first["person_id"]), []), MAX_F2_PER_F1)
        spread = slot * 0.6
        for n, second in enumerate(fan):
            offset = 0.0 if len(fan) == 1 else -spread / 2 + n * spread / (len(fan) - 1)
            x2 = CX + R2 * math.cos(angle + offset)
            y2 = CY + R2 * math.sin(angle + offset)
            edges.append(line(x, y, x2, y2, "edge f2-edge"))
            nodes.append(_node(x2, y2, str(second["person_id"]), "f2", 7, angle + offset))
        if fan:
            r = (R1 + R2) / 2 + 12
            fx, fy = CX + r * math.cos(angle), CY + r * math.sin(angle)
            labels.append(text(fx, fy, fan_label(fan), "edge-label", "middle"))
    nodes.append(_node(CX, CY, case_id, "case", 16, None))
    return svg(WIDTH, HEIGHT, [*edges, *nodes, *labels], label, "graph")
