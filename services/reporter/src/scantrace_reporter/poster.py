"""Printable A4 posters of a venue's QR code, as PNG (Pillow) and SVG.

The QR code is 15 cm wide on paper (about ten times smaller than the reading distance, so
a phone reads it from a metre or more). Text uses a TrueType font that covers Vietnamese
(DejaVu Sans from Debian's `fonts-dejavu-core`, or any font named by SCANTRACE_POSTER_FONT).
"""

from __future__ import annotations

import io
import logging
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

#: A4 at 150 dots per inch.
PAGE_W: Final = 1240
PAGE_H: Final = 1754
DPI: Final = 150
QR_TARGET_PX: Final = 886  # 15 cm at 150 dpi
MARGIN: Final = 80

INSTRUCTION: Final = "Quét mã khi vào và khi ra · Scan this code when you arrive and when you leave"
HEADLINE: Final = "QUÉT MÃ QR KHAI BÁO · SCAN TO CHECK IN"

KIND_LABELS: Final[dict[str, str]] = {
    "office": "Văn phòng · Office",
    "public_service": "Dịch vụ công · Public service",
    "hospital": "Bệnh viện · Hospital",
    "clinic": "Phòng khám · Clinic",
    "school": "Trường học · School",
    "factory": "Nhà máy · Factory",
    "shop": "Cửa hàng · Shop",
    "market": "Chợ · Market",
    "restaurant": "Nhà hàng · Restaurant",
    "cafe": "Quán cà phê · Café",
    "transport": "Phương tiện công cộng · Public transport",
    "quarantine_facility": "Cơ sở cách ly · Quarantine facility",
    "other": "Khác · Other",
}

_REGULAR_CANDIDATES: Final = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)
_BOLD_CANDIDATES: Final = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
)


class FontMissing(RuntimeError):
    """No TrueType font covering Vietnamese was found."""


def find_font(explicit: Path | None, candidates: Iterable[str]) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise FontMissing(f"poster font {explicit} does not exist")
        return explicit
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontMissing(
        "no TrueType font covering Vietnamese found: install Debian's fonts-dejavu-core "
        "or set SCANTRACE_POSTER_FONT / SCANTRACE_POSTER_FONT_BOLD"
    )


@dataclass(frozen=True)
class PosterFonts:
    regular: Path
    bold: Path

    @classmethod
    def discover(cls, regular: Path | None = None, bold: Path | None = None) -> PosterFonts:
        found = find_font(regular, _REGULAR_CANDIDATES)
        try:
            found_bold = find_font(bold, _BOLD_CANDIDATES)
        except FontMissing:
            found_bold = found
        return cls(found, found_bold)

    def at(self, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
        return _font(str(self.bold if bold else self.regular), size)


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class PosterContent:
    venue_id: str
    venue_name: str
    unit_name: str
    kind: str
    payload: str


@dataclass(frozen=True)
class TextLine:
    text: str
    size: int
    bold: bool
    y: int


@dataclass(frozen=True)
class Layout:
    """Where everything goes on the page; shared by the PNG and SVG renderers."""

    modules: list[list[bool]]
    qr_x: int
    qr_y: int
    module_px: int
    lines: list[TextLine]


def nfc(text: str) -> str:
    """Precomposed Vietnamese letters: every font covers those, not all stack combining marks."""
    return unicodedata.normalize("NFC", text)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels; the last line is cut with an ellipsis if needed."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return [line if font.getlength(line) <= width else _cut(line, font, width) for line in lines]


def _cut(line: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    while line and font.getlength(line + "…") > width:
        line = line[:-1]
    return line + "…"


def qr_modules(payload: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def layout(content: PosterContent, fonts: PosterFonts) -> Layout:
    width = PAGE_W - 2 * MARGIN
    lines: list[TextLine] = []
    y = MARGIN
    lines.append(TextLine(HEADLINE, 40, True, y))
    y += 70
    name_size = 72
    name_lines = wrap(nfc(content.venue_name), fonts.at(name_size, bold=True), width, 2)
    if len(name_lines) > 1:
        name_size = 60
        name_lines = wrap(nfc(content.venue_name), fonts.at(name_size, bold=True), width, 2)
    for text in name_lines:
        lines.append(TextLine(text, name_size, True, y))
        y += int(name_size * 1.25)
    modules = qr_modules(content.payload)
    module_px = max(1, QR_TARGET_PX // len(modules))
    qr_size = module_px * len(modules)
    qr_x = (PAGE_W - qr_size) // 2
    qr_y = y + 10
    y = qr_y + qr_size + 20
    for text in wrap(nfc(content.unit_name), fonts.at(36), width, 2):
        lines.append(TextLine(text, 36, False, y))
        y += 46
    lines.append(TextLine(KIND_LABELS.get(content.kind, content.kind), 32, False, y))
    y += 60
    size = 30
    while size > 18 and fonts.at(size, bold=True).getlength(INSTRUCTION) > width:
        size -= 1  # one line, as large as fits
    lines.append(TextLine(INSTRUCTION, size, True, y))
    lines.append(TextLine(f"ID: {content.venue_id}", 22, False, PAGE_H - MARGIN - 22))
    return Layout(modules, qr_x, qr_y, module_px, lines)


def render_png(content: PosterContent, fonts: PosterFonts) -> bytes:
    plan = layout(content, fonts)
    image = Image.new("L", (PAGE_W, PAGE_H), 255)
    draw = ImageDraw.Draw(image)
    for row_index, row in enumerate(plan.modules):
        for col_index, dark in enumerate(row):
            if dark:
                x = plan.qr_x + col_index * plan.module_px
                y = plan.qr_y + row_index * plan.module_px
                draw.rectangle((x, y, x + plan.module_px - 1, y + plan.module_px - 1), fill=0)
    for line in plan.lines:
        font = fonts.at(line.size, bold=line.bold)
        left = (PAGE_W - font.getlength(line.text)) / 2
        draw.text((left, line.y), line.text, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, dpi=(DPI, DPI))
    return out.getvalue()


def render_svg(content: PosterContent, fonts: PosterFonts) -> bytes:
    plan = layout(content, fonts)
    path = []
    for row_index, row in enumerate(plan.modules):
        for col_index, dark in enumerate(row):
            if dark:
                path.append(f"M{col_index} {row_index}h1v1h-1z")
    family = "DejaVu Sans, Noto Sans, Arial, sans-serif"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        f'viewBox="0 0 {PAGE_W} {PAGE_H}">',
        f'<rect width="{PAGE_W}" height="{PAGE_H}" fill="#fff"/>',
        f'<path transform="translate({plan.qr_x} {plan.qr_y}) scale({plan.module_px})" '
        f'fill="#000" shape-rendering="crispEdges" d="{"".join(path)}"/>',
    ]
    for line in plan.lines:
        weight = "bold" if line.bold else "normal"
        parts.append(
            f'<text x="{PAGE_W // 2}" y="{line.y + line.size}" font-size="{line.size}" '
            f'font-weight="{weight}" font-family="{family}" text-anchor="middle">'
            f"{escape(line.text)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts).encode("utf-8")


def render_zip(contents: Iterable[PosterContent], fonts: PosterFonts, fmt: str) -> bytes:
    """One ZIP holding a poster per venue (`<venue_id>.svg` or `.png`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for content in contents:
            body = render_png(content, fonts) if fmt == "png" else render_svg(content, fonts)
            archive.writestr(f"{content.venue_id}.{fmt}", body)
    return out.getvalue()
