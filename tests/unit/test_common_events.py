"""Every topic's example messages decode, validate and round-trip; bad ones are refused."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import msgpack
import pytest

from scantrace_common.events import (
    TOPIC_EVENTS,
    InvalidEvent,
    Location,
    ScanEvent,
    VenueEvent,
    decode,
    encode,
)
from scantrace_common.topics import TOPICS

pytestmark = pytest.mark.unit


def _examples(topic: str) -> list[dict[str, Any]]:
    text = resources.files("scantrace_common.examples").joinpath(f"{topic}.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def test_every_topic_has_a_schema_and_examples() -> None:
    assert set(TOPIC_EVENTS) == set(TOPICS)
    for topic in TOPICS:
        assert _examples(topic), f"no example messages for {topic}"


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_examples_decode_and_round_trip(topic: str) -> None:
    cls = TOPIC_EVENTS[topic]
    for example in _examples(topic):
        wire = msgpack.packb(example)
        event = decode(cls, wire)
        assert event.v == 1
        assert msgpack.unpackb(encode(event)) == example


def _scan(**changes: Any) -> bytes:
    scan = _examples("scans.v1")[0] | changes
    packed: bytes = msgpack.packb({k: v for k, v in scan.items() if v is not None})
    return packed


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "v"),
        ({"direction": "sideways"}, "direction"),
        ({"scan_id": "not-a-uuid"}, "scan_id"),
        ({"person_id": "bad id with spaces"}, "person_id"),
        ({"venue_id": "x" * 65}, "venue_id"),
        ({"scanned_at": -1}, "scanned_at"),
        ({"scanned_at": "2021-05-17T08:30:00+07:00"}, "scanned_at"),
        ({"device_id": None}, "device_id"),
    ],
)
def test_invalid_scans_are_refused_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(ScanEvent, _scan(**changes))


@pytest.mark.parametrize("data", [None, b"", b"\xc1", b"\x93\x01\x02\x03", msgpack.packb("text")])
def test_undecodable_values_are_invalid(data: bytes | None) -> None:
    with pytest.raises(InvalidEvent):
        decode(ScanEvent, data)


def test_venue_events_written_before_locations_still_decode() -> None:
    old = {k: v for k, v in _examples("venues.v1")[0].items() if k not in ("location", "address")}
    venue = decode(VenueEvent, msgpack.packb(old))
    assert (venue.location, venue.address) == (None, None)
    located = decode(VenueEvent, msgpack.packb(_examples("venues.v1")[2]))
    assert located.location == Location(lat=10.9721, lon=106.8433)
    for bad in ({"lat": 91.0, "lon": 106.0}, {"lat": 10.0, "lon": 181.0}, {"lat": 10.0}):
        with pytest.raises(InvalidEvent, match="location"):
            decode(VenueEvent, msgpack.packb({**old, "location": bad}))


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    event = decode(ScanEvent, _scan(extra_field="later version adds this"))
    assert event.person_id == "p-000123"


@pytest.mark.parametrize(
    ("topic", "changes", "reason"),
    [
        ("criteria.v1", {"bands": [{"min_percent": 0, "level": "purple"}]}, "level"),
        ("criteria.v1", {"bands": [{"min_percent": 101, "level": "red"}]}, "min_percent"),
        ("criteria.v1", {"version": 0}, "version"),
        ("criteria.v1", {"validity_days": 0}, "validity_days"),
        ("assessments.v1", {"level": "blue"}, "level"),
        ("assessments.v1", {"answers": {"bad id": "dat"}}, "answers"),
        ("inspections.v1", {"result": "maybe"}, "result"),
        ("venue-reports.v1", {"category": "noisy"}, "category"),
    ],
)
def test_invalid_section_10_events_are_refused(
    topic: str, changes: dict[str, Any], reason: str
) -> None:
    example = _examples(topic)[0] | changes
    with pytest.raises(InvalidEvent, match=reason):
        decode(TOPIC_EVENTS[topic], msgpack.packb(example))


def _cluster(**changes: Any) -> dict[str, Any]:
    event = _examples("clusters.v1")[0]
    return event | {"clusters": [event["clusters"][0] | changes]}


@pytest.mark.parametrize(
    ("example", "reason"),
    [
        (_cluster(cluster_id="dn-bh-market-007"), "cluster_id"),
        (_cluster(cluster_id="dn-bh-market-007@2021-05-03T01Z"), "cluster_id"),
        (_cluster(cluster_id="bad id@20210503T01Z"), "cluster_id"),
        (_cluster(status="pending"), "status"),
        (_cluster(cases=["p-000123"]), "cases"),
        (_cluster(end=None), "end"),
        (_examples("clusters.v1")[1] | {"clusters": None}, "clusters"),
    ],
)
def test_invalid_cluster_lists_are_refused(example: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(TOPIC_EVENTS["clusters.v1"], msgpack.packb(example))
