"""The shared audience upload: batches within the platform's limit, members reported
sent only once the platform has them, lists created when missing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from usher.platforms.audiences_common import (
    AudienceAccount,
    AudiencesConnector,
    CustomerList,
    Member,
    PixelRule,
)
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.registry import audience_platform_names, get_audiences_connector

ACCOUNT = AudienceAccount("fake", "1", "token")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def created(self, external_id: str) -> None:
        self.events.append(("created", external_id))

    def committed(self, keys: Sequence[str], *, removed: bool) -> None:
        self.events.append(("committed", tuple(keys), removed))


class FakeConnector(AudiencesConnector[list]):
    platform = "fake"
    max_members_per_call = 2
    min_members = 1
    min_lookalike_seed = None

    def __init__(self, log: Recorder, fail_on_send: int | None = None) -> None:
        super().__init__(throttle=lambda account: None)
        self.log = log
        self.sends = 0
        self.fail_on_send = fail_on_send

    def create_list(self, account, target, first):
        self.log.events.append(("create", tuple(m.key for m in first)))
        return "list-1"

    def begin(self, account, audience_id, total, *, remove):
        self.log.events.append(("begin", total, remove))
        return []

    def send(self, account, audience_id, session, batch, *, remove, last):
        self.sends += 1
        if self.sends == self.fail_on_send:
            raise PlatformError(ErrorKind.TRANSIENT, "down")
        self.log.events.append(("send", tuple(m.key for m in batch), last))

    def finish(self, account, session):
        self.log.events.append(("finish",))

    def create_pixel_audience(self, account, rule: PixelRule) -> str:
        return "pixel-1"


def members(*keys: str) -> list[Member]:
    return [Member(key, {"email": key}) for key in keys]


def test_members_go_in_batches_and_count_as_sent_after_each_call():
    log = Recorder()
    FakeConnector(log).push_members(ACCOUNT, CustomerList("l"), members("a", "b", "c"), [], log)
    assert log.events == [
        ("create", ()),
        ("created", "list-1"),
        ("begin", 3, False),
        ("send", ("a", "b"), False),
        ("committed", ("a", "b"), False),
        ("send", ("c",), True),
        ("committed", ("c",), False),
        ("finish",),
    ]


def test_where_the_platform_applies_a_job_on_finish_nothing_counts_before_it():
    log = Recorder()
    connector = FakeConnector(log)
    connector.commits_per_call = False
    connector.push_members(
        ACCOUNT, CustomerList("l", external_id="9"), [], members("a", "b", "c"), log
    )
    assert log.events[-2:] == [("finish",), ("committed", ("a", "b", "c"), True)]
    assert not [e for e in log.events[:-1] if e[0] == "committed"]


def test_a_failed_call_leaves_later_batches_unreported():
    log = Recorder()
    with pytest.raises(PlatformError):
        FakeConnector(log, fail_on_send=2).push_members(
            ACCOUNT, CustomerList("l", external_id="9"), members("a", "b", "c", "d"), [], log
        )
    assert [e for e in log.events if e[0] == "committed"] == [("committed", ("a", "b"), False)]


def test_a_platform_that_creates_lists_with_members_gets_the_first_batch():
    log = Recorder()
    connector = FakeConnector(log)
    connector.max_members_on_create = 2
    connector.push_members(ACCOUNT, CustomerList("l"), members("a", "b", "c"), [], log)
    assert log.events[:3] == [
        ("create", ("a", "b")),
        ("created", "list-1"),
        ("committed", ("a", "b"), False),
    ]
    assert ("send", ("c",), True) in log.events


def test_every_ad_platform_has_an_audiences_connector_and_ga4_none():
    assert audience_platform_names() == ["google_ads", "meta", "tiktok"]
    for name in audience_platform_names():
        assert get_audiences_connector(name).platform == name
    with pytest.raises(KeyError):
        get_audiences_connector("ga4")
