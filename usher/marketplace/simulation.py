"""The marketplace driver of a market simulation (`manage.py simulate_market`).

It plays the marketplace around Usher while the sandbox's market simulator plays the
ad platforms: hour by simulated hour it advances the sandbox's clock, runs Usher's
periodic jobs when Celery beat would (every entry of `settings.CELERY_BEAT_SCHEDULE`,
so jobs added later run without changing the driver), lands a sample of the hour's ad
clicks on the event page as page views through the collector, and sends the hour's
purchases as paid orders through the ingest API with their click ids and UTM tags,
as the ticketing core would.

Inside the run, Django's clock (`django.utils.timezone.now`) follows the simulated
clock and Celery tasks run inline, so everything Usher does happens at simulated time
in this process. Usher is called in-process through its real URL stack (Django's test
client: middleware, authentication, validation); the sandbox through its control API.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
from celery.schedules import maybe_schedule
from django.conf import settings
from django.test import Client as DjangoClient
from django.test import override_settings
from django.utils import timezone

from usher.celery import app as celery_app
from usher.events.collector import MAX_EVENTS_PER_REQUEST
from usher.lib.cors import SITE_KEY_HEADER
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent
from usher.marketplace.schemas import INGEST_MAX_BATCH_ITEMS
from usher.sandbox.market import model
from usher.sandbox.market.scenario import Scenario

MARKET = "/_sandbox/market"
MINUTES_PER_HOUR = 60
CHECK_MARGIN = timedelta(seconds=30)
# Clicks landed as page views per ad and hour: a sample (every buyer's click first),
# since a busy hour has thousands of clicks and the demo needs only their shape.
DEFAULT_VISITS_PER_AD_HOUR = 5
# Visitors' addresses, spread so the collector's per-IP flood limit sees many browsers.
VISITOR_NETWORK = "198.51.100.{}"
VISITOR_HOSTS = 250
SIMULATED_USER_AGENT = "Mozilla/5.0 (Linux; Android 14) usher-simulation"
GRANTED = {
    "ad_storage": True,
    "analytics_storage": True,
    "ad_user_data": True,
    "ad_personalization": True,
}


class DriverError(RuntimeError):
    """The sandbox or Usher refused what the driver sent."""


@dataclass
class DriveSummary:
    hours: int = 0
    jobs: Counter[str] = field(default_factory=Counter)
    visits: int = 0
    orders: int = 0
    truth: dict[str, Any] = field(default_factory=dict)


class SandboxMarket:
    """The sandbox's market control API (`/_sandbox/market`), over one httpx client."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.now: datetime | None = None
        self.start: datetime | None = None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, f"{MARKET}{path}", **kwargs)
        if answer.status_code >= 400:
            raise DriverError(
                f"sandbox {method} {MARKET}{path}: {answer.status_code} {answer.text}"
            )
        return answer.json()

    def load(self, scenario: dict[str, Any], seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"scenario": scenario}
        if seed is not None:
            body["seed"] = seed
        status = self._call("POST", "", json=body)
        self.start = self.now = datetime.fromisoformat(status["now"])
        return status

    def advance_to(self, when: datetime) -> None:
        assert self.now is not None
        minutes = (when - self.now).total_seconds() / 60
        if minutes > 0:
            self.now = datetime.fromisoformat(
                self._call("POST", "/advance", json={"minutes": minutes})["now"]
            )

    def create_campaign(self, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/campaigns", json=fields)

    def visits(self, hour: int, per_ad: int) -> list[dict[str, Any]]:
        return self._call("GET", "/visits", params={"hour": hour, "per_ad": per_ad})["visits"]

    def purchases(self, after: int) -> tuple[list[dict[str, Any]], int]:
        answer = self._call("GET", "/purchases", params={"after": after})
        return answer["purchases"], answer["last_seq"]

    def truth(self) -> dict[str, Any]:
        return self._call("GET", "/truth")


class BeatJobs:
    """CELERY_BEAT_SCHEDULE on a simulated clock: which jobs are due, and running them.

    A job scheduled more often than `min_interval` runs once per `min_interval` (the
    driver's clock moves a minute at a time, so at least that)."""

    def __init__(
        self,
        schedule: dict[str, dict[str, Any]],
        start: datetime,
        min_interval: timedelta = timedelta(minutes=1),
    ) -> None:
        celery_app.loader.import_default_modules()
        self.now = start
        self.min_interval = min_interval
        self.entries = []
        self.floored: set[str] = set()  # the jobs scheduled more often than min_interval
        for name, entry in sorted(schedule.items()):
            when = maybe_schedule(entry["schedule"])
            when.nowfun = lambda: self.now
            self.entries.append((name, entry, when))
            every = getattr(when, "run_every", None)  # interval schedules; crontabs have none
            if every is not None and every < min_interval:
                self.floored.add(name)
        self.last_run = {name: start for name, _, _ in self.entries}
        # When each entry is worth asking again: its schedule says how long until it is
        # due (as beat sleeps on it), so the minutes in between skip Celery's arithmetic.
        self.next_check = {name: start for name, _, _ in self.entries}

    def due(self, at: datetime) -> list[str]:
        self.now = at
        found = []
        for name, _, when in self.entries:
            if at < self.next_check[name]:
                continue
            if name in self.floored and at - self.last_run[name] < self.min_interval:
                continue
            state = when.is_due(self.last_run[name])
            if state.is_due:
                self.last_run[name] = at
                found.append(name)
            # Half a minute early, so a rounding of the estimate never skips the minute.
            self.next_check[name] = at + timedelta(seconds=state.next) - CHECK_MARGIN
        return found

    def run(self, name: str) -> None:
        entry = next(entry for key, entry, _ in self.entries if key == name)
        task = celery_app.tasks[entry["task"]]
        task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {})).get(
            disable_sync_subtasks=False
        )


@contextlib.contextmanager
def simulated_django_clock(now: Callable[[], datetime]) -> Iterator[None]:
    """Usher's `timezone.now()` and Celery's eager mode follow the simulation."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with mock.patch.object(timezone, "now", now):
            yield
    finally:
        celery_app.conf.task_always_eager = eager


def equal_split_campaigns(
    sandbox: SandboxMarket, scenario: Scenario, landing_url: str
) -> list[dict[str, Any]]:
    """One campaign per segment at the equal_split budget, landing on the event."""
    budget = model.equal_split_daily_budget(scenario)
    return [
        sandbox.create_campaign(
            platform=segment.platform,
            campaign_type=segment.campaign_type,
            daily_budget=math.floor(budget * 100) / 100,
            landing_url=landing_url,
        )
        for segment in scenario.segments
    ]


class Marketplace:
    """The marketplace's pages and ticketing core, posting to Usher in-process."""

    def __init__(self, client: MarketplaceClient, event: MarketplaceEvent, api_key: str) -> None:
        self.client = client
        self.event = event
        self.api_key = api_key
        self.http = DjangoClient()

    def land_visits(self, visits: list[dict[str, Any]]) -> int:
        """Page views through the collector, as the event page's tracker.js posts them."""
        for batch in _batches(visits, MAX_EVENTS_PER_REQUEST):
            self._post(
                "/api/collect",
                {"events": [self._page_view(v) for v in batch]},
                202,
                headers={SITE_KEY_HEADER: self.client.site_key, "User-Agent": SIMULATED_USER_AGENT},
                REMOTE_ADDR=_visitor_ip(batch[0]["click_id"]),
            )
        return len(visits)

    def _page_view(self, visit: dict[str, Any]) -> dict[str, Any]:
        param = visit["click_id_param"]
        return {
            "event_id": f"sim-pv-{_digest(visit['click_id'])}",
            "name": "page_view",
            "time": visit["time"],
            "event": self.event.slug,
            "visitor_id": _visitor_id(visit["click_id"]),
            "page_url": visit["landing_url"][:2000],
            "click": {param: visit["click_id"], "clicked_at": visit["time"]},
            "utm": {key.removeprefix("utm_"): value for key, value in visit["utm"].items()},
            "consent": GRANTED,
        }

    def place_orders(self, purchases: list[dict[str, Any]]) -> int:
        """Paid orders through the ingest API, as the ticketing core pushes them."""
        for batch in _batches(purchases, INGEST_MAX_BATCH_ITEMS):
            self._post(
                "/api/ingest/orders/batch",
                {"items": [self._order(p) for p in batch]},
                200,
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        return len(purchases)

    def _post(self, path: str, body: dict[str, Any], expected: int, **request: Any) -> None:
        answer = self.http.post(path, body, content_type="application/json", **request)
        if answer.status_code != expected:
            raise DriverError(f"{path}: {answer.status_code} {answer.content[:300]!r}")

    def _order(self, purchase: dict[str, Any]) -> dict[str, Any]:
        click_id = purchase["click_id"]
        return {
            "external_id": purchase["order_id"],
            "event_external_id": self.event.external_id,
            "value": f"{purchase['value']:.2f}",
            "currency": purchase["currency"],
            "tickets_count": purchase["tickets"],
            "status": "paid",
            "placed_at": purchase["time"],
            "customer": {"email": f"buyer-{_digest(click_id)}@example.invalid"},
            "attribution": {
                "visitor_id": _visitor_id(click_id),
                purchase["click_id_param"]: click_id,
                **purchase["utm"],
                "client_ip": _visitor_ip(click_id),
                "user_agent": SIMULATED_USER_AGENT,
                "consent": GRANTED,
            },
        }


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _visitor_id(click_id: str) -> str:
    return f"sim-{_digest(click_id)}"


def _visitor_ip(click_id: str) -> str:
    return VISITOR_NETWORK.format(int(_digest(click_id)[:6], 16) % VISITOR_HOSTS + 1)


# Management call limits while simulated hours play (effectively none; see below).
UNLIMITED_CALLS_PER_HOUR = 10.0**9
UNLIMITED_BURST = 10.0**6
UNLIMITED_DAILY_OPERATIONS = 10**12


def lifted_management_limits() -> dict[str, Any]:
    """Management call limits out of the way for the simulation, as settings overrides
    (`override_settings(**lifted_management_limits())`).

    The limits are per real hour (and Google's developer token per real day), but the
    driver plays a simulated day in about a minute with every job at its simulated time:
    the platforms' own pace is kept by the simulated schedule, while real-time buckets
    would refuse most of a day's syncs."""
    return {
        "PLATFORM_MANAGEMENT_RATE_LIMITS": {
            platform: {kind: (UNLIMITED_CALLS_PER_HOUR, UNLIMITED_BURST) for kind in kinds}
            for platform, kinds in settings.PLATFORM_MANAGEMENT_RATE_LIMITS.items()
        },
        "GOOGLE_ADS_DAILY_OPERATIONS": UNLIMITED_DAILY_OPERATIONS,
    }


def drive(
    sandbox: SandboxMarket,
    marketplace: Marketplace,
    hours: int,
    visits_per_ad_hour: int = DEFAULT_VISITS_PER_AD_HOUR,
    hours_per_second: float = 0.0,
    progress: Callable[[str], None] | None = None,
    min_job_interval: timedelta = timedelta(minutes=1),
) -> DriveSummary:
    """Run `hours` simulated hours from the sandbox's clock; the market must be loaded.

    The clock moves a minute at a time, so a job scheduled more often than once a
    minute runs once a simulated minute, or once per `min_job_interval` if longer (the
    benchmark's choice: tasks run inline here, so the sweeps that catch lost tasks find
    nothing). With `visits_per_ad_hour=0` no page views are landed (orders carry their
    click ids, which is all attribution needs).
    """
    assert sandbox.now is not None and sandbox.start is not None
    summary = DriveSummary()
    jobs = BeatJobs(settings.CELERY_BEAT_SCHEDULE, sandbox.now, min_job_interval)
    last_seq = 0
    started = time.monotonic()
    with (
        simulated_django_clock(lambda: sandbox.now or datetime.now(UTC)),
        override_settings(**lifted_management_limits()),
    ):
        for _ in range(hours):
            hour_start = sandbox.now
            for minute in range(1, MINUTES_PER_HOUR):
                at = hour_start + timedelta(minutes=minute)
                due = jobs.due(at)
                if due:
                    sandbox.advance_to(at)
                    _run(jobs, due, summary)
            sandbox.advance_to(hour_start + timedelta(hours=1))
            flight_hour = int((hour_start - sandbox.start).total_seconds() // 3600)
            if visits_per_ad_hour > 0:
                summary.visits += marketplace.land_visits(
                    sandbox.visits(flight_hour, visits_per_ad_hour)
                )
            purchases, last_seq = sandbox.purchases(last_seq)
            summary.orders += marketplace.place_orders(purchases)
            _run(jobs, jobs.due(sandbox.now), summary)
            summary.hours += 1
            if progress and summary.hours % 24 == 0:
                progress(
                    f"{sandbox.now:%Y-%m-%d %H:%M} UTC: {summary.hours} h, "
                    f"{summary.visits} visits, {summary.orders} orders, "
                    f"{sum(summary.jobs.values())} job runs"
                )
            if hours_per_second > 0:
                ahead = summary.hours / hours_per_second - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    summary.truth = sandbox.truth()
    return summary


def _run(jobs: BeatJobs, names: list[str], summary: DriveSummary) -> None:
    for name in names:
        jobs.run(name)
        summary.jobs[name] += 1
