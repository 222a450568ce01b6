"""The administrative tree of the simulated province, modelled on Đồng Nai (before the 2025 merger).

Two cities and nine districts, 170 communes with their real names, and the provincial
departments as agencies. Unit ids are ASCII slugs under the prefix `dn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scantrace_cli.sim.model import SimUnit
from scantrace_cli.sim.names import slug

PROVINCE_ID: Final = "dn"
PROVINCE_NAME: Final = "Tỉnh Đồng Nai"


@dataclass(frozen=True)
class District:
    name: str
    code: str
    city: bool
    #: Relative population, which weights homes, shops and workplaces.
    population: int
    #: Commune names; a leading `P ` marks a ward (phường), `T ` a township (thị trấn), else a xã.
    communes: tuple[str, ...]


# fmt: off
DISTRICTS: Final[tuple[District, ...]] = (
    District(
        "Biên Hòa", "bh", True, 1_100,
        (
            "P Trảng Dài", "P Tân Phong", "P Tân Biên", "P Hố Nai", "P Tân Hòa", "P Tân Hiệp",
            "P Bửu Long", "P Tân Tiến", "P Tam Hiệp", "P Long Bình", "P Quang Vinh", "P Tân Mai",
            "P Thống Nhất", "P Trung Dũng", "P Tam Hòa", "P Hòa Bình", "P Quyết Thắng",
            "P Thanh Bình", "P Bình Đa", "P An Bình", "P Bửu Hòa", "P Long Bình Tân", "P Tân Vạn",
            "P Tân Hạnh", "P Hiệp Hòa", "P Hóa An", "P An Hòa", "P Tam Phước", "P Phước Tân",
            "Long Hưng",
        ),
    ),
    District(
        "Long Khánh", "lk", True, 170,
        (
            "P Xuân Trung", "P Xuân Thanh", "P Xuân Bình", "P Xuân An", "P Xuân Hòa", "P Phú Bình",
            "P Bàu Trâm", "P Bảo Vinh", "P Suối Tre", "P Xuân Lập", "P Xuân Tân", "Bàu Sen",
            "Bình Lộc", "Bảo Quang", "Hàng Gòn",
        ),
    ),
    District(
        "Vĩnh Cửu", "vc", False, 150,
        (
            "T Vĩnh An", "Trị An", "Tân An", "Vĩnh Tân", "Thiện Tân", "Thạnh Phú", "Bình Lợi",
            "Tân Bình", "Bình Hòa", "Phú Lý", "Mã Đà", "Hiếu Liêm",
        ),
    ),
    District(
        "Tân Phú", "tp", False, 160,
        (
            "T Tân Phú", "Dak Lua", "Nam Cát Tiên", "Phú An", "Núi Tượng", "Tà Lài", "Phú Lập",
            "Phú Sơn", "Phú Thịnh", "Thanh Sơn", "Phú Trung", "Phú Xuân", "Phú Lộc", "Phú Lâm",
            "Phú Bình", "Phú Thanh", "Trà Cổ", "Phú Điền",
        ),
    ),
    District(
        "Định Quán", "dq", False, 200,
        (
            "T Định Quán", "Thanh Sơn", "Phú Tân", "Phú Vinh", "Phú Lợi", "Phú Hòa", "Ngọc Định",
            "Gia Canh", "Phú Ngọc", "La Ngà", "Túc Trưng", "Phú Túc", "Suối Nho", "Phú Cường",
        ),
    ),
    District(
        "Trảng Bom", "tb", False, 370,
        (
            "T Trảng Bom", "Thanh Bình", "Cây Gáo", "Bàu Hàm", "Sông Thao", "Sông Trầu",
            "Đông Hòa", "Bắc Sơn", "Hố Nai 3", "Tây Hòa", "Bình Minh", "Trung Hòa", "Đồi 61",
            "Hưng Thịnh", "Quảng Tiến", "Giang Điền", "An Viễn",
        ),
    ),
    District(
        "Thống Nhất", "tn", False, 160,
        (
            "T Dầu Giây", "Gia Tân 1", "Gia Tân 2", "Gia Tân 3", "Gia Kiệm", "Quang Trung",
            "Bàu Hàm 2", "Hưng Lộc", "Lộ 25", "Xuân Thiện",
        ),
    ),
    District(
        "Cẩm Mỹ", "cm", False, 170,
        (
            "T Long Giao", "Sông Nhạn", "Xuân Quế", "Nhân Nghĩa", "Xuân Đường", "Xuân Mỹ",
            "Thừa Đức", "Bảo Bình", "Xuân Bảo", "Xuân Tây", "Xuân Đông", "Sông Ray", "Lâm San",
        ),
    ),
    District(
        "Long Thành", "lt", False, 270,
        (
            "T Long Thành", "An Phước", "Bình An", "Long Đức", "Lộc An", "Bình Sơn", "Tam An",
            "Cẩm Đường", "Long An", "Bàu Cạn", "Long Phước", "Phước Bình", "Tân Hiệp",
            "Phước Thái",
        ),
    ),
    District(
        "Xuân Lộc", "xl", False, 240,
        (
            "T Gia Ray", "Xuân Bắc", "Suối Cao", "Xuân Thành", "Xuân Thọ", "Xuân Trường",
            "Xuân Hòa", "Xuân Hưng", "Xuân Tâm", "Suối Cát", "Xuân Hiệp", "Xuân Phú", "Xuân Định",
            "Bảo Hòa", "Lang Minh",
        ),
    ),
    District(
        "Nhơn Trạch", "nt", False, 230,
        (
            "T Hiệp Phước", "Phước Thiền", "Long Tân", "Đại Phước", "Phú Hội", "Phú Thạnh",
            "Phú Đông", "Long Thọ", "Vĩnh Thanh", "Phước An", "Phú Hữu", "Phước Khánh",
        ),
    ),
)
# fmt: on

#: Provincial departments (sở) and boards; code, name, and the venue kinds they run.
AGENCIES: Final[tuple[tuple[str, str], ...]] = (
    ("so-yte", "Sở Y tế"),
    ("so-gddt", "Sở Giáo dục và Đào tạo"),
    ("so-congthuong", "Sở Công Thương"),
    ("so-gtvt", "Sở Giao thông Vận tải"),
    ("so-ldtbxh", "Sở Lao động - Thương binh và Xã hội"),
    ("so-tnmt", "Sở Tài nguyên và Môi trường"),
    ("so-khdt", "Sở Kế hoạch và Đầu tư"),
    ("so-noivu", "Sở Nội vụ"),
    ("so-tuphap", "Sở Tư pháp"),
    ("so-vhttdl", "Sở Văn hóa, Thể thao và Du lịch"),
    ("so-tttt", "Sở Thông tin và Truyền thông"),
    ("bql-kcn", "Ban Quản lý các Khu công nghiệp Đồng Nai"),
)

#: Industrial parks, by district code (factories are placed in their communes' districts).
INDUSTRIAL_PARKS: Final[dict[str, tuple[str, ...]]] = {
    "bh": ("KCN Biên Hòa 1", "KCN Biên Hòa 2", "KCN Amata", "KCN Loteco", "KCN Tam Phước"),
    "tb": ("KCN Sông Mây", "KCN Hố Nai", "KCN Bàu Xéo", "KCN Giang Điền"),
    "nt": ("KCN Nhơn Trạch 1", "KCN Nhơn Trạch 2", "KCN Nhơn Trạch 3", "KCN Nhơn Trạch 5"),
    "lt": ("KCN Long Thành", "KCN Lộc An - Bình Sơn", "KCN An Phước", "KCN Gò Dầu"),
    "tn": ("KCN Dầu Giây",),
    "xl": ("KCN Xuân Lộc",),
    "dq": ("KCN Định Quán",),
    "vc": ("KCN Thạnh Phú",),
    "lk": ("KCN Long Khánh",),
    "cm": ("KCN Cẩm Mỹ",),
    "tp": ("KCN Tân Phú",),
}


@dataclass(frozen=True)
class Commune:
    unit: SimUnit
    district: District
    #: Relative population share of this commune.
    weight: float


def district_unit_id(district: District) -> str:
    return f"{PROVINCE_ID}.{district.code}"


def agency_unit_id(code: str) -> str:
    return f"{PROVINCE_ID}.{code}"


def _commune_name(raw: str) -> tuple[str, str]:
    """(display name, plain name) from the `P `/`T ` marked form."""
    if raw.startswith("P "):
        return f"Phường {raw[2:]}", raw[2:]
    if raw.startswith("T "):
        return f"Thị trấn {raw[2:]}", raw[2:]
    return f"Xã {raw}", raw


def build_units() -> tuple[list[SimUnit], list[Commune]]:
    """Every unit, parents before children, and the communes with their population weights."""
    units = [SimUnit(unit_id=PROVINCE_ID, name=PROVINCE_NAME, parent_id=None, level="province")]
    communes: list[Commune] = []
    for district in DISTRICTS:
        prefix = "Thành phố" if district.city else "Huyện"
        district_id = district_unit_id(district)
        units.append(
            SimUnit(
                unit_id=district_id,
                name=f"{prefix} {district.name}",
                parent_id=PROVINCE_ID,
                level="district",
            )
        )
        per_commune = district.population / len(district.communes)
        for raw in district.communes:
            display, plain = _commune_name(raw)
            unit = SimUnit(
                unit_id=f"{district_id}.{slug(plain)}",
                name=display,
                parent_id=district_id,
                level="commune",
            )
            units.append(unit)
            # Wards and townships are denser than rural communes.
            weight = per_commune * (1.6 if raw[:2] in ("P ", "T ") else 1.0)
            communes.append(Commune(unit=unit, district=district, weight=weight))
    for code, name in AGENCIES:
        units.append(
            SimUnit(unit_id=agency_unit_id(code), name=name, parent_id=PROVINCE_ID, level="agency")
        )
    return units, communes
