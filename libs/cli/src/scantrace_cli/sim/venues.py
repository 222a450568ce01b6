"""Venues of every SPEC kind in proportions a Vietnamese province might have, with plausible names."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from scantrace_cli.sim.model import SimVenue
from scantrace_cli.sim.province import (
    AGENCIES,
    DISTRICTS,
    INDUSTRIAL_PARKS,
    PROVINCE_ID,
    Commune,
    agency_unit_id,
    district_unit_id,
)

#: Relative share of each kind; public_service is about one one-stop centre per commune at 2,000 venues.
KIND_WEIGHTS: Final[dict[str, int]] = {
    "shop": 290,
    "cafe": 150,
    "restaurant": 140,
    "school": 110,
    "public_service": 90,
    "factory": 80,
    "office": 70,
    "clinic": 60,
    "transport": 45,
    "market": 20,
    "other": 17,
    "hospital": 12,
    "quarantine_facility": 6,
}

PROVINCIAL_HOSPITALS: Final = (
    "Bệnh viện Đa khoa Đồng Nai",
    "Bệnh viện Nhi đồng Đồng Nai",
    "Bệnh viện Đa khoa Thống Nhất",
    "Bệnh viện Đa khoa khu vực Long Khánh",
    "Bệnh viện Đa khoa khu vực Long Thành",
    "Bệnh viện Đa khoa khu vực Định Quán",
)
_GIVEN: Final = (
    "An", "Bình", "Cúc", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Khánh",
    "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Ngọc", "Nhung", "Phúc", "Phương", "Quân",
    "Sơn", "Tâm", "Thảo", "Thành", "Thu", "Trang", "Trung", "Tuấn", "Vân", "Việt", "Yến",
)  # fmt: skip
_COMPANIES: Final = (
    "Changshin Việt Nam", "Pouchen Việt Nam", "Taekwang Vina", "Hwaseung Vina", "Bosch Việt Nam",
    "Fujitsu Việt Nam", "Ajinomoto Việt Nam", "Nestlé Trị An", "Lixil Việt Nam", "Shinetsu",
    "Dệt may Đồng Tiến", "Gỗ Tân Mai", "Cơ khí Đồng Nai", "Sonadezi", "Tín Nghĩa", "Donataba",
)  # fmt: skip
_SHOPS: Final = ("Tạp hóa {g}", "Bách Hóa Xanh {c}", "Circle K {c}", "Nhà thuốc {g}",
                 "Điện máy Xanh {c}", "Co.opFood {c}", "Thế Giới Di Động {c}", "Tiệm vàng {g}")  # fmt: skip
_CAFES: Final = ("Cà phê {g}", "Highlands Coffee {c}", "Trà sữa {g}", "Cà phê võng {g}")
_RESTAURANTS: Final = ("Quán cơm {g}", "Phở {g}", "Bún bò {g}", "Lẩu dê {g}", "Cơm tấm {g}",
                       "Bánh mì {g}", "Hủ tiếu {g}")  # fmt: skip
_OTHER: Final = ("Chùa {c}", "Nhà thờ {c}", "Nhà văn hóa {c}", "Sân bóng đá mini {g}")


#: A rough bounding box (south, west, north, east, in degrees) of each district of Dong Nai, drawn
#: around its settled part from a map: plausible positions, not surveyed boundaries (a box may
#: cross a neighbour's edge). Provincial agencies' venues sit in Biên Hòa, the capital.
DISTRICT_BOXES: Final[dict[str, tuple[float, float, float, float]]] = {
    "bh": (10.890, 106.790, 11.000, 106.910),
    "lk": (10.890, 107.190, 10.980, 107.290),
    "vc": (10.980, 106.860, 11.200, 107.020),
    "tp": (11.220, 107.320, 11.480, 107.480),
    "dq": (11.080, 107.180, 11.300, 107.420),
    "tb": (10.910, 106.960, 11.040, 107.090),
    "tn": (10.910, 107.110, 11.010, 107.210),
    "cm": (10.720, 107.170, 10.870, 107.330),
    "lt": (10.710, 106.910, 10.840, 107.080),
    "xl": (10.860, 107.320, 10.990, 107.530),
    "nt": (10.690, 106.810, 10.780, 106.940),
}


def district_location(venue_id: str, district_code: str) -> tuple[float, float]:
    """A point of the district's box, the same for the same venue: drawn from a generator of its
    own (seeded by the venue id), so locations leave the simulation's other draws unchanged."""
    south, west, north, east = DISTRICT_BOXES[district_code]
    rng = random.Random(f"location:{venue_id}")
    return round(rng.uniform(south, north), 6), round(rng.uniform(west, east), 6)


@dataclass
class VenueIndex:
    """Venues by kind, and by kind and district code, so routines can pick nearby places."""

    venues: list[SimVenue] = field(default_factory=list)
    district_of: dict[str, str] = field(default_factory=dict)
    by_kind: dict[str, list[SimVenue]] = field(default_factory=dict)
    by_kind_district: dict[tuple[str, str], list[SimVenue]] = field(default_factory=dict)

    def add(self, venue: SimVenue, district_code: str) -> None:
        self.venues.append(venue)
        self.district_of[venue.venue_id] = district_code
        self.by_kind.setdefault(venue.kind, []).append(venue)
        self.by_kind_district.setdefault((venue.kind, district_code), []).append(venue)

    def pick(
        self, rng: random.Random, kinds: Sequence[str], district_code: str, near: float = 0.85
    ) -> SimVenue | None:
        """A venue of one of `kinds`, in the district with probability `near` when it has one."""
        kind = kinds[0] if len(kinds) == 1 else rng.choice(kinds)
        local = self.by_kind_district.get((kind, district_code))
        if local and rng.random() < near:
            return rng.choice(local)
        anywhere = self.by_kind.get(kind)
        return rng.choice(anywhere) if anywhere else None


def kind_counts(total: int) -> dict[str, int]:
    """Split `total` over the kinds by weight (largest remainder), at least one of each when possible."""
    weight_sum = sum(KIND_WEIGHTS.values())
    exact = {k: total * w / weight_sum for k, w in KIND_WEIGHTS.items()}
    counts = {k: int(x) for k, x in exact.items()}
    by_remainder = sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)
    for kind in by_remainder[: total - sum(counts.values())]:
        counts[kind] += 1
    if total >= len(KIND_WEIGHTS):
        for kind in KIND_WEIGHTS:
            while counts[kind] == 0:
                donor = max(counts, key=lambda k: counts[k])
                counts[donor] -= 1
                counts[kind] += 1
    return counts


def build_venues(rng: random.Random, communes: Sequence[Commune], total: int) -> VenueIndex:
    """`total` venues placed in communes by population, provincial ones under their agencies."""
    index = VenueIndex()
    weights = [c.weight for c in communes]
    seq = 0

    def add(kind: str, name: str, unit_id: str, district_code: str) -> None:
        nonlocal seq
        seq += 1
        # A few venues carry their own dwell time, as a registrar might set for a long market day.
        custom = rng.choice((90, 120, 180)) if rng.random() < 0.05 else None
        venue_id = f"{kind.replace('_', '-')}-{seq:06d}"
        lat, lon = district_location(venue_id, district_code)
        venue = SimVenue(
            venue_id=venue_id,
            name=name[:200],
            kind=kind,
            unit_id=unit_id,
            default_dwell_minutes=custom,
            lat=lat,
            lon=lon,
        )
        index.add(venue, district_code)

    def commune() -> Commune:
        return rng.choices(communes, weights=weights)[0]

    def given() -> str:
        return rng.choice(_GIVEN)

    counts = kind_counts(total)
    for kind, count in counts.items():
        for i in range(count):
            c = commune()
            code, short = c.district.code, c.unit.name.split(" ", 1)[1]
            if kind == "public_service":
                if i == 0:
                    add(kind, "Trung tâm Phục vụ hành chính công tỉnh Đồng Nai", PROVINCE_ID, "bh")
                elif i <= len(DISTRICTS):
                    d = DISTRICTS[i - 1]
                    add(kind, f"Bộ phận Một cửa UBND {d.name}", district_unit_id(d), d.code)
                else:
                    add(kind, f"Bộ phận Một cửa UBND {c.unit.name}", c.unit.unit_id, code)
            elif kind == "hospital":
                if i < len(PROVINCIAL_HOSPITALS):
                    add(kind, PROVINCIAL_HOSPITALS[i], agency_unit_id("so-yte"), "bh")
                else:
                    d = DISTRICTS[(i - len(PROVINCIAL_HOSPITALS)) % len(DISTRICTS)]
                    add(kind, f"Trung tâm Y tế {d.name}", district_unit_id(d), d.code)
            elif kind == "clinic":
                name = f"Trạm Y tế {c.unit.name}" if i % 2 else f"Phòng khám Đa khoa {given()}"
                add(kind, name, c.unit.unit_id, code)
            elif kind == "school":
                level = rng.choice(
                    ("Trường Mầm non", "Trường Tiểu học", "Trường THCS", "Trường THPT")
                )
                if level == "Trường THPT":
                    add(kind, f"{level} {short}", agency_unit_id("so-gddt"), code)
                else:
                    add(kind, f"{level} {short}", c.unit.unit_id, code)
            elif kind == "factory":
                parks = [(d, p) for d in DISTRICTS for p in INDUSTRIAL_PARKS.get(d.code, ())]
                d, park = rng.choice(parks)
                site = rng.choice([x for x in communes if x.district.code == d.code])
                company = rng.choice(_COMPANIES)
                add(kind, f"Nhà máy {company} ({park})", site.unit.unit_id, d.code)
            elif kind == "office":
                roll = rng.random()
                if roll < 0.3:
                    agency, agency_name = rng.choice(AGENCIES)
                    add(kind, f"Văn phòng {agency_name}", agency_unit_id(agency), "bh")
                elif roll < 0.5:
                    add(kind, f"UBND {c.district.name}", district_unit_id(c.district), code)
                else:
                    add(kind, f"Văn phòng Công ty {rng.choice(_COMPANIES)}", c.unit.unit_id, code)
            elif kind == "transport":
                plate = f"60B-{rng.randint(100, 999)}.{rng.randint(10, 99)}"
                add(
                    kind,
                    f"Xe buýt tuyến {rng.randint(1, 20)} ({plate})",
                    agency_unit_id("so-gtvt"),
                    code,
                )
            elif kind == "market":
                add(kind, f"Chợ {short}", c.unit.unit_id, code)
            elif kind == "quarantine_facility":
                d = DISTRICTS[i % len(DISTRICTS)]
                add(kind, f"Khu cách ly tập trung {d.name}", district_unit_id(d), d.code)
            else:
                templates = {"shop": _SHOPS, "cafe": _CAFES, "restaurant": _RESTAURANTS}.get(
                    kind, _OTHER
                )
                add(kind, rng.choice(templates).format(g=given(), c=short), c.unit.unit_id, code)
    return index
