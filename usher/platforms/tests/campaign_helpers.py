"""Builders and transports shared by the campaigns and insights connector tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.campaigns_base import (
    AdAccount,
    CampaignSpec,
    CampaignType,
    CreativeSpec,
    Location,
    Objective,
    TargetingSpec,
)
from usher.sandbox.metrics import Metrics
from usher.sandbox.testing import MountedSandbox
from usher.sandbox.transport import sandbox_transport

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

ACCOUNTS = {
    "meta": AdAccount(
        "meta",
        "act_1234567890",
        "sandbox-meta-token",
        currency="EUR",
        timezone="Europe/Bucharest",
        settings={"page_id": "1029384756", "pixel_id": "123456789012345"},
    ),
    "google_ads": AdAccount(
        "google_ads",
        "1234567890",
        currency="EUR",
        timezone="Europe/Bucharest",
        settings={"refresh_token": "sandbox-refresh-token"},
    ),
    "tiktok": AdAccount(
        "tiktok",
        "7000000000000000001",
        "sandbox-tiktok-token",
        currency="EUR",
        timezone="Europe/Bucharest",
        settings={"pixel_id": "CSANDBOXPIXEL0000001", "identity_id": "7000000000000000099"},
    ),
}


def a_creative(reference: str = "cr-1", **changes: Any) -> CreativeSpec:
    creative = CreativeSpec(
        reference=reference,
        headline="Sunwave Festival 2027",
        description="Three days by the sea. Tickets on sale now.",
        landing_url=f"https://tickets.example/e/sunwave?utm_campaign=usher-c-1&utm_content={reference}",
        image_url="https://img.example/sunwave.jpg",
    )
    return replace(creative, **changes)


def a_spec(**changes: Any) -> CampaignSpec:
    spec = CampaignSpec(
        reference="usher-c-1",
        name="Sunwave 2027 · prospecting [prospecting]",
        campaign_type=CampaignType.PROSPECTING,
        objective=Objective.CONVERSIONS,
        currency="EUR",
        start_time=START,
        end_time=START + timedelta(days=30),
        targeting=TargetingSpec(
            countries=["RO"],
            locations=[Location(44.17, 28.65, 40, "Constanța")],
            age_min=18,
            age_max=45,
            interests=["electronic music"],
        ),
        creatives=[a_creative("cr-1"), a_creative("cr-2", headline="Sunwave: last tickets")],
        daily_budget=Decimal("25.00"),
        dsa_beneficiary="Sunwave SRL",
        dsa_payor="Tixello SRL",
    )
    return replace(spec, **changes)


class LoseAnswers(httpx.BaseTransport):
    """The platform does the work, then the answer is lost (a read timeout).

    `lose` is how many answers to lose, for requests whose path contains `path`: the
    case idempotent publishing exists for (the object exists, the caller never learnt).
    """

    def __init__(self, inner: httpx.BaseTransport, path: str, lose: int = 1) -> None:
        self.inner = inner
        self.path = path
        self.lose = lose

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.lose > 0 and request.method == "POST" and self.path in request.url.path:
            self.lose -= 1
            response.read()
            raise httpx.ReadTimeout("timed out waiting for the answer", request=request)
        return response


def lose_answers(sandbox: MountedSandbox, platform: str, path: str, lose: int = 1) -> LoseAnswers:
    transport = LoseAnswers(sandbox_transport(sandbox.app), path, lose)
    set_transport_for_tests(platform, transport)
    return transport


def sandbox_objects(sandbox: MountedSandbox, platform: str, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in sandbox.state.objects[platform].values() if obj["type"] == kind]


class RecordedDelivery:
    """A sandbox `MetricsSource` that reports what a test put in, zeros elsewhere.

    `put(..., hour=h)` records one hour; the day's total is the sum of its hours. It
    answers `hourly_for` and `outage` too, as the market simulator's sandbox asks.
    """

    def __init__(self) -> None:
        self.hours: dict[tuple[str, str, str, date], dict[int, Metrics]] = {}

    def put(
        self,
        platform: str,
        object_type: str,
        object_id: str,
        day: date,
        hour: int = 12,
        **values: Any,
    ) -> None:
        self.hours.setdefault((platform, object_type, object_id, day), {})[hour] = Metrics(**values)

    def metrics_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Metrics:
        hours = self.hours.get((platform, object_type, object_id, day), {})
        return sum(hours.values(), Metrics())

    def hourly_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> list[tuple[int, Metrics]]:
        return sorted(self.hours.get((platform, object_type, object_id, day), {}).items())

    def outage(self, platform: str) -> str | None:
        return None


def record_delivery(sandbox: MountedSandbox) -> RecordedDelivery:
    source = RecordedDelivery()
    sandbox.state.metrics = source
    return source
