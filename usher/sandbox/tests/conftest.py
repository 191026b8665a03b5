"""Fixtures for the sandbox's own tests: an in-process sandbox with a controllable clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from usher.sandbox import SandboxState, create_app, sandbox_transport
from usher.sandbox.app import SandboxApp

TOKEN = "sandbox-test-token"
START = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
META_PIXEL = "1234567890123456"
META_AD_ACCOUNT = "998877665544"
GOOGLE_CUSTOMER = "1234567890"
TIKTOK_PIXEL = "C0QDA8RC77U2TMR44LI0"
TIKTOK_ADVERTISER = "7000000000000000001"
GA4_ID = "G-PSW1MY7HB4"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class FakeClock:
    """The sandbox's notion of now; tests move it to cross windows without sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SandboxState:
    return SandboxState(clock=clock)


@pytest.fixture
def app(state: SandboxState) -> SandboxApp:
    return create_app(state)


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sandbox_transport(app), base_url="http://sandbox") as http:
        yield http


def meta_event(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    event = {
        "event_name": "Purchase",
        "event_time": int(clock.now) - 60,
        "event_id": "order-1:Purchase",
        "action_source": "website",
        "event_source_url": "https://tickets.example/e/1",
        "user_data": {
            "em": [sha("ana@example.com")],
            "client_user_agent": "Mozilla/5.0",
            "client_ip_address": "203.0.113.7",
        },
        "custom_data": {"currency": "EUR", "value": 50.0},
    }
    event.update(overrides)
    return event


def capi(
    client: httpx.Client, events: list[dict[str, Any]], token: str = TOKEN, pixel: str = META_PIXEL
) -> httpx.Response:
    return client.post(
        f"/meta/v25.0/{pixel}/events", params={"access_token": token}, json={"data": events}
    )


def google_headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "developer-token": "sandbox-dev-token"}


def tiktok_event(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    event = {
        "event": "CompletePayment",
        "event_time": int(clock.now) - 60,
        "event_id": "order-1:CompletePayment",
        "user": {
            "email": [sha("ana@example.com")],
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0",
        },
        "properties": {"currency": "EUR", "value": 50.0, "content_type": "product"},
        "page": {"url": "https://tickets.example/e/1"},
    }
    event.update(overrides)
    return event


def tiktok_track(
    client: httpx.Client,
    events: list[dict[str, Any]],
    token: str = TOKEN,
    pixel: str = TIKTOK_PIXEL,
) -> httpx.Response:
    body = {"event_source": "web", "event_source_id": pixel, "data": events}
    return client.post(
        "/tiktok/open_api/v1.3/event/track/", headers={"Access-Token": token}, json=body
    )


# Audiences that report their exact size at once: for tests about membership, not about
# the platforms' fill delays and rounding (those have their own tests).
EXACT_AUDIENCES = {
    "audience_fill_seconds": 0,
    "lookalike_fill_seconds": 0,
    "rounded_audience_sizes": False,
}


def configure(client: httpx.Client, platform: str, account: str, **settings: Any) -> None:
    """Register an account's settings (the per-account switches) through the control API."""
    response = client.post(
        "/_sandbox/accounts",
        json={"platform": platform, "account_id": account, "settings": settings},
    )
    assert response.status_code == 201, response.text
