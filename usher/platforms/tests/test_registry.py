"""The platform registry maps names to connector factories and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.platforms import registry
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    ConversionsConnector,
    Destination,
    EventOutcome,
    OutcomeStatus,
)


class FakeConnector:
    max_batch_size = 2
    max_event_age = timedelta(days=7)

    def split_calls(self, events: Sequence[ConversionEvent]) -> list[Sequence[ConversionEvent]]:
        return [events]

    def http_calls_for(self, events: Sequence[ConversionEvent]) -> int:
        return 1

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult:
        return BatchResult([EventOutcome(e.event_id, OutcomeStatus.DELIVERED) for e in events])


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test starts from an empty registry and cannot leak registrations to others.
    monkeypatch.setattr(registry, "_factories", {})


def test_it_returns_a_connector_from_the_registered_factory() -> None:
    registry.register("fake", FakeConnector)

    connector = registry.get_connector("fake")

    assert isinstance(connector, FakeConnector)
    assert isinstance(connector, ConversionsConnector)  # satisfies the Protocol
    assert connector.max_batch_size == 2


def test_it_builds_a_fresh_connector_per_lookup() -> None:
    registry.register("fake", FakeConnector)

    assert registry.get_connector("fake") is not registry.get_connector("fake")


def test_it_lists_registered_platforms_sorted() -> None:
    assert registry.platform_names() == []

    registry.register("tiktok", FakeConnector)
    registry.register("meta", FakeConnector)

    assert registry.platform_names() == ["meta", "tiktok"]


def test_it_raises_key_error_for_an_unknown_platform() -> None:
    with pytest.raises(KeyError, match="linkedin"):
        registry.get_connector("linkedin")


def test_it_refuses_a_second_factory_under_one_name() -> None:
    registry.register("fake", FakeConnector)

    with pytest.raises(ValueError, match="already registered"):
        registry.register("fake", lambda: FakeConnector())


def test_it_accepts_the_same_factory_registered_twice() -> None:
    registry.register("fake", FakeConnector)
    registry.register("fake", FakeConnector)

    assert registry.platform_names() == ["fake"]


@pytest.mark.parametrize("name", ["", "  "])
def test_it_rejects_blank_names(name: str) -> None:
    with pytest.raises(ValueError):
        registry.register(name, FakeConnector)


def test_it_rejects_a_factory_that_is_not_callable() -> None:
    with pytest.raises(TypeError):
        registry.register("fake", "not callable")  # type: ignore[arg-type]


# The contract the registered connectors exchange (usher/platforms/base.py).

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_conversion_event_accepts_our_vocabulary() -> None:
    event = ConversionEvent("o-1:purchase", "purchase", NOW, value=Decimal("12.50"), currency="EUR")

    assert event.content_ids == [] and event.user_data == {}
    assert event.ad_user_data is None  # consent unknown until the visitor chooses


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"event_name": "Purchase"}, ValueError),
        ({"event_time": NOW.replace(tzinfo=None)}, ValueError),
        ({"value": 12.5}, TypeError),
    ],
)
def test_a_conversion_event_rejects_what_connectors_cannot_send(
    changes: dict[str, object], error: type[Exception]
) -> None:
    fields: dict[str, object] = {"event_id": "e", "event_name": "purchase", "event_time": NOW}

    with pytest.raises(error):
        ConversionEvent(**(fields | changes))  # type: ignore[arg-type]


def test_a_destination_keeps_its_token_and_settings_out_of_repr() -> None:
    destination = Destination(
        "meta", "123", access_token="EAAB-secret", settings={"api_secret": "s3"}
    )

    assert "EAAB-secret" not in repr(destination)
    assert "s3" not in repr(destination)
