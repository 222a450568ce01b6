"""Shared fixtures: the session's Kafka and Redis (started only when a test asks for them),
a unique namespace per test, and markers.

Markers are declared in the root pyproject.toml. Tests under tests/unit that carry none of
unit/integration/e2e get `unit` automatically; integration and e2e tests mark themselves.
`kafka_only` tests are skipped when the session's broker is the embedded Tansu. `browser` gives
a real headless Chromium that records its requests (tests/support/browser.py).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support import browser as browsers
from tests.support.servers import (
    BrokerSource,
    kafka_for_tests,
    redis_for_tests,
    session_broker_kind,
)

#: Property tests and fuzzers (hypothesis, schemathesis) run derandomized in CI, so a red run
#: replays the same examples; elsewhere they explore. HYPOTHESIS_PROFILE chooses explicitly.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

_TIER_MARKERS = ("unit", "integration", "e2e")
_UNIT_DIR = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_UNIT_DIR) and not any(
            item.get_closest_marker(name) for name in _TIER_MARKERS
        ):
            item.add_marker(pytest.mark.unit)
    kafka_only = [item for item in items if item.get_closest_marker("kafka_only")]
    if kafka_only and session_broker_kind() == "tansu":
        skip = pytest.mark.skip(reason="needs Apache Kafka; the session broker is Tansu")
        for item in kafka_only:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kafka_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, BrokerSource]]:
    """(bootstrap, source) of the session's broker; see tests/support/servers.py for the order."""
    with kafka_for_tests(tmp_path_factory.mktemp("kafka-state")) as (bootstrap, source):
        if source == "tansu":
            # Tansu refuses idempotent producers; clients read this (docs/local-stack.md).
            os.environ.setdefault("SCANTRACE_KAFKA_IDEMPOTENCE", "false")
            os.environ.setdefault("SCANTRACE_BROKER_KIND", "tansu")
        yield bootstrap, source


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_session: tuple[str, BrokerSource]) -> str:
    """host:port of a real broker shared by the session; isolate with `namespace`."""
    return kafka_session[0]


@pytest.fixture(scope="session")
def broker_source(kafka_session: tuple[str, BrokerSource]) -> BrokerSource:
    """external, container, kafka or tansu: lets a test adapt to what the broker can do."""
    return kafka_session[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis:// URL of a real Redis shared by the session; isolate keys with `namespace`."""
    with redis_for_tests(tmp_path_factory.mktemp("redis-state")) as url:
        yield url


@pytest.fixture
def namespace() -> str:
    """A unique prefix (`t<hex8>.`) for this test's topics, consumer groups and Redis keys."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
async def kafka_topics(kafka_bootstrap: str, namespace: str) -> AsyncIterator[str]:
    """Creates every registry topic (and .dlq twin) under `namespace`; yields the namespace.

    The topics are deleted afterwards, so a long session does not pile up partitions.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    from scantrace_common.settings import DEFAULT_RETENTION_DAYS
    from scantrace_common.topics import ensure_topics

    created = await ensure_topics(kafka_bootstrap, namespace, retention_days=DEFAULT_RETENTION_DAYS)
    yield namespace
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(created)
    except Exception as exc:  # cleanup only: a broker that cannot delete keeps them
        logging.getLogger(__name__).warning("could not delete test topics: %r", exc)
    finally:
        await admin.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[browsers.Browser]:
    """A fresh headless Chromium (new profile) recording every request; quit after the test.

    Skipped where Chromium is not installed, except in CI (`CI` set), where it must be.
    """
    reason = browsers.missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with browsers.chromium(tmp_path / "chromium-profile") as window:
        yield window
