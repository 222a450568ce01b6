"""Real data sets turned into workloads: SocioPatterns proximity as sessions at venues, Foursquare check-ins as scans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from scantrace_cli.sim.model import Workload

DATASETS = (
    "sociopatterns-hospital",
    "sociopatterns-primaryschool",
    "sociopatterns-highschool-2013",
    "sociopatterns-workplace-2013",
    "foursquare-tsmc2014-tky-head",
)


def load_dataset(
    name: str, data_dir: Path, *, end_date: date, tz: str, gap_minutes: int = 10, limit: int = 0
) -> Workload:
    """The workload of data set `name` (a folder of `data_dir`), its last day moved to `end_date`."""
    from scantrace_cli.sim.replay import foursquare, sociopatterns

    if name == foursquare.NAME:
        return foursquare.load(data_dir, end_date=end_date, tz=tz, limit=limit)
    if name in sociopatterns.SPECS:
        return sociopatterns.load(
            name, data_dir, end_date=end_date, tz=tz, gap_minutes=gap_minutes, limit=limit
        )
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
