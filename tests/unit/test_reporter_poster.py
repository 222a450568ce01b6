"""Posters: the PNG decodes, its QR code reads back to the signed payload, text fits the page."""

from __future__ import annotations

import io
import zipfile

import pytest
import zxingcpp
from PIL import Image

from scantrace_common.qr import QrSigner, QrVerifier
from scantrace_reporter.poster import (
    PAGE_H,
    PAGE_W,
    PosterContent,
    PosterFonts,
    layout,
    render_png,
    render_svg,
    render_zip,
)

pytestmark = pytest.mark.unit

NAME = "Nhà hàng Phở Hương Việt — Chi nhánh Biên Hòa số 2, đường Đồng Khởi"


@pytest.fixture(scope="module")
def fonts() -> PosterFonts:
    return PosterFonts.discover()


@pytest.fixture(scope="module")
def signer() -> QrSigner:
    return QrSigner.generate("k1")


def _content(signer: QrSigner, name: str = NAME, venue_id: str = "venue-001") -> PosterContent:
    return PosterContent(
        venue_id=venue_id,
        venue_name=name,
        unit_name="Phường Tân Phong, Thành phố Biên Hòa",
        kind="restaurant",
        payload=signer.sign(venue_id),
    )


def test_png_poster_qr_reads_back_to_the_payload(fonts: PosterFonts, signer: QrSigner) -> None:
    content = _content(signer)
    image = Image.open(io.BytesIO(render_png(content, fonts)))
    assert image.size == (PAGE_W, PAGE_H)
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [content.payload]
    verifier = QrVerifier.from_env_value(signer.public_env_value())
    assert verifier.verify(results[0].text) == "venue-001"


def test_png_poster_reads_back_when_printed_small(fonts: PosterFonts, signer: QrSigner) -> None:
    """Scaled down to a third (a phone photo from further away), the code still reads."""
    content = _content(signer)
    image = Image.open(io.BytesIO(render_png(content, fonts)))
    small = image.resize((PAGE_W // 3, PAGE_H // 3))
    assert [r.text for r in zxingcpp.read_barcodes(small)] == [content.payload]


def test_qr_is_large_on_paper(fonts: PosterFonts, signer: QrSigner) -> None:
    plan = layout(_content(signer), fonts)
    qr_cm = plan.module_px * len(plan.modules) / 150 * 2.54
    assert qr_cm >= 12  # readable from a metre and more
    assert all(0 <= line.y < PAGE_H for line in plan.lines)


def test_fonts_cover_vietnamese(fonts: PosterFonts) -> None:
    font = fonts.at(40, bold=True)
    for letter in "ĐđƠơƯưẠảẤầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ":
        # A missing glyph renders as the same ".notdef" box for every letter.
        assert font.getmask(letter).getbbox() != font.getmask("\U000f0000").getbbox(), letter


def test_svg_poster_escapes_and_keeps_diacritics(fonts: PosterFonts, signer: QrSigner) -> None:
    svg = render_svg(_content(signer, name='Quán <b>&"Cà phê"</b> Đà Lạt'), fonts).decode()
    assert "Đà" in svg
    assert "Lạt" in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert svg.startswith("<?xml")


def test_zip_export_holds_one_poster_per_venue(fonts: PosterFonts, signer: QrSigner) -> None:
    contents = [_content(signer, venue_id=f"v{i}") for i in range(3)]
    archive = zipfile.ZipFile(io.BytesIO(render_zip(contents, fonts, "svg")))
    assert sorted(archive.namelist()) == ["v0.svg", "v1.svg", "v2.svg"]
