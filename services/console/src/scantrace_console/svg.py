"""Small helpers for the SVG the console draws on the server (chart, timeline, graph): every
text is escaped, numbers are rounded, and nothing carries a `style` attribute (the CSP forbids
inline styles; classes are styled by console.css)."""

from __future__ import annotations

from markupsafe import Markup, escape


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text(x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> str:
    return (
        f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" class="{escape(cls)}">'
        f"{escape(content)}</text>"
    )


def line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" class="{escape(cls)}"/>'
    )


def svg(width: int, height: int, body: list[str], label: str, cls: str) -> Markup:
    return Markup(  # noqa: S704 - every part above is escaped where it holds data
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="{escape(cls)}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )
