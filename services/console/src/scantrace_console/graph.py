"""Exposures as a graph a person can read (server-drawn SVG): the case in the centre, its F1
contacts on a ring around it, each F2 outside, next to the F1 it came through (`via`); every
edge is labelled with the venues and the minutes of the contact.

Only the strongest contacts are drawn (by minutes), so the picture stays legible; the table
under it lists them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from markupsafe import Markup

from scantrace_console.svg import line, num, svg, text

WIDTH, HEIGHT = 760, 600
CX, CY, R1, R2 = WIDTH / 2, HEIGHT / 2, 150, 265
MAX_F1: Final = 16
MAX_F2_PER_F1: Final = 4


def edge_label(contact: Mapping[str, Any]) -> str:
    venues = list(contact.get("venues", []))
    shown = ", ".join(venues[:2]) + (" …" if len(venues) > 2 else "")
    return f"{shown} · {contact['total_overlap_minutes']} min"


def _node(x: float, y: float, label: str, cls: str, radius: float) -> str:
    return (
        f'<g class="node {cls}"><circle cx="{num(x)}" cy="{num(y)}" r="{num(radius)}"/>'
        f"{text(x, y + radius + 12, label, 'node-label', 'middle')}</g>"
    )


def _edge(x1: float, y1: float, x2: float, y2: float, label: str, cls: str) -> str:
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    return line(x1, y1, x2, y2, f"edge {cls}") + text(mx, my - 3, label, "edge-label", "middle")


def exposure_graph(
    case_id: str, contacts: Sequence[Mapping[str, Any]], label: str = "exposures"
) -> Markup:
    f1 = sorted(
        (c for c in contacts if c["depth"] == 1), key=lambda c: -int(c["total_overlap_minutes"])
    )[:MAX_F1]
    by_via: dict[str, list[Mapping[str, Any]]] = {}
    for contact in contacts:
        if contact["depth"] == 2 and contact.get("via"):
            by_via.setdefault(str(contact["via"]), []).append(contact)
    edges: list[str] = []
    nodes: list[str] = []
    slot = 2 * math.pi / max(1, len(f1))
    for index, first in enumerate(f1):
        angle = -math.pi / 2 + index * slot
        x, y = CX + R1 * math.cos(angle), CY + R1 * math.sin(angle)
        edges.append(_edge(CX, CY, x, y, edge_label(first), "f1-edge"))
        nodes.append(_node(x, y, str(first["person_id"]), "f1", 10))
        seconds = sorted(
            by_via.get(str(first["person_id"]), []), key=lambda c: -int(c["total_overlap_minutes"])
        )[:MAX_F2_PER_F1]
        for n, second in enumerate(seconds):
            spread = slot * 0.7
            offset = 0.0 if len(seconds) == 1 else -spread / 2 + n * spread / (len(seconds) - 1)
            x2 = CX + R2 * math.cos(angle + offset)
            y2 = CY + R2 * math.sin(angle + offset)
            edges.append(_edge(x, y, x2, y2, edge_label(second), "f2-edge"))
            nodes.append(_node(x2, y2, str(second["person_id"]), "f2", 7))
    nodes.append(_node(CX, CY, case_id, "case", 16))
    body = [*edges, *nodes]
    return svg(WIDTH, HEIGHT, body, label, "graph")


def drawn_counts(contacts: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """How many F1 and F2 the graph can show at most (for the note under it)."""
    f1 = sum(1 for c in contacts if c["depth"] == 1)
    return min(f1, MAX_F1), min(sum(1 for c in contacts if c["depth"] == 2), MAX_F1 * MAX_F2_PER_F1)
