"""The optimizer benchmark's `usher` strategy: one scenario's flight on Usher's production path.

Per seed, from an empty database and a fresh sandbox mounted in-process (every
platform's HTTP client talks to it through an httpx transport, the same code path as
over the network):

1. the scenario is loaded into the sandbox's market with the seed;
2. at the flight's start (Django's clock follows the sandbox's): a marketplace with
   one organizer and the event (at the end of the flight), the marketplace's ad
   accounts, the organizer's tracking codes (audiences are managed with their
   credentials), and the organizer's history — past buyers of an earlier event through
   the ingest service, visitors and cart abandoners of this event's page in the event
   store — so the retargeting, dynamic remarketing and lookalike audiences exist and
   are synced to the platforms before the suite is made;
3. the organizer asks for the scenario's budget (its daily limit and targets, each
   platform's share in proportion to its segments, so the first allocation is the
   equal split); staff confirm the transfer, which creates the suite; staff give each
   campaign of a scenario segment the segment's creatives (one variant per creative,
   named in the headline and text, which is how the sandbox tells creatives apart),
   approve it — publishing goes through the connectors to the sandbox — and reject the
   slots the market has no segment for;
4. the marketplace driver (`usher.marketplace.simulation.drive`) plays every hour of
   the flight: each Celery beat job at its simulated time (metrics sync, the hourly
   optimizer, spend control's rebalance, audiences, deliveries; the deliveries'
   15- and 30-second safety nets every 15 minutes), and each hour's
   purchases as paid orders through the ingest API with their click ids and UTM tags,
   which attribution ties back to the campaigns.

The market (the sandbox's truth) is returned for scoring like every other strategy.
Django must be set up (the benchmark's own database, or the test database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from usher.campaigns import publishing, services
from usher.campaigns.models import (
    LIVE_STATUSES,
    AutomatedCampaign,
    CampaignCreative,
    CampaignStatus,
)
from usher.campaigns.suite import landing_url
from usher.dashboard.demo import DEMO_IMAGE_URL, ensure_demo_accounts
from usher.lib.ratelimit import reset_local_buckets
from usher.lib.redis_cache import delete_prefixed_keys, is_redis
from usher.marketplace import services as marketplace
from usher.marketplace.history import (
    PAST_PURCHASES_DAYS_AGO,
    history_sizes,
    land_history,
    ready_audiences,
)
from usher.marketplace.models import (
    EventStatus,
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
)
from usher.marketplace.schemas import (
    EventIn,
    OrganizerIn,
)
from usher.marketplace.simulation import (
    Marketplace,
    SandboxMarket,
    drive,
    lifted_management_limits,
    simulated_django_clock,
)
from usher.sandbox.market import Market, Scenario
from usher.sandbox.testing import MOUNTED_BASE_URLS, MountedSandbox
from usher.tracking import services as tracking

# The deliveries' sweeps (every 15 and 30 s) catch tasks a broker lost; the driver runs
# tasks inline, so they run every 15 simulated minutes instead of every minute.
SAFETY_NET_INTERVAL = timedelta(minutes=15)
# The organizer's codes on the sandbox's accounts (any `sandbox-` credential is
# accepted); purchases go to the platforms server-side, as organizers set them up.
TRACKING_CODES = {
    "meta": {"pixel_id": "123456789012345", "access_token": "sandbox-bench"},
    "tiktok": {"pixel_code": "CSANDBOXPIXEL0000001", "access_token": "sandbox-bench"},
    "google_ads": {
        "conversion_id": "AW-123456789",
        "customer_id": "1234567890",
        "conversion_actions": {"purchase": "111"},
        "refresh_token": "sandbox-bench",
    },
}


@dataclass
class Flight:
    """The sandbox's market after the flight, and the segments Usher could not run
    (with the reason its suite gave, e.g. an audience below the platform's minimum)."""

    market: Market
    not_run: dict[str, str]


def fly(data: dict[str, Any], seed: int) -> Flight:
    """Run the scenario `data` with `seed` on Usher's production path."""
    call_command("flush", interactive=False, verbosity=0)
    reset_local_buckets()
    box = MountedSandbox()
    try:
        with (
            own_cache_keys(),
            override_settings(PLATFORM_BASE_URLS=MOUNTED_BASE_URLS, **lifted_management_limits()),
        ):
            sandbox = SandboxMarket(box.control)
            sandbox.load(data, seed)
            market = box.state.market
            assert market is not None
            with simulated_django_clock(lambda: sandbox.now):
                client, event, not_run = publish_suite(market.scenario, sandbox.now)
            api_key = client.rotate_api_key()
            drive(
                sandbox,
                Marketplace(client, event, api_key),
                hours=market.scenario.hours,
                visits_per_ad_hour=0,
                progress=lambda line: print(f"seed {seed} usher: {line}", flush=True),
                min_job_interval=SAFETY_NET_INTERVAL,
            )
        return Flight(market, not_run)
    finally:
        box.close()


@contextmanager
def own_cache_keys() -> Iterator[None]:
    """The flight's cache keys under a prefix of their own, deleted afterwards. Every
    flight starts from the same ids at the same simulated hours, so without it a flight
    would meet an earlier (or a parallel, `--jobs`) flight's rate-limit windows and
    counters for its accounts: the database is flushed per flight, the cache is shared."""
    prefix = f"bench-flight-{uuid4().hex}"
    caches = {name: {**config, "KEY_PREFIX": prefix} for name, config in settings.CACHES.items()}
    with override_settings(CACHES=caches):
        try:
            yield
        finally:
            # Benchmarks run on Redis; the tests' file cache is a directory per run.
            if is_redis(settings.CACHES["default"]):
                delete_prefixed_keys(prefix)


def publish_suite(
    scenario: Scenario, now: datetime
) -> tuple[MarketplaceClient, MarketplaceEvent, dict[str, str]]:
    """The marketplace, the organizer's history and audiences, the paid budget and its
    suite published for the scenario's segments: the client, the event, and why any
    segment has no live campaign ("platform/type": reason)."""
    client = MarketplaceClient.objects.create(
        name="Bench marketplace", slug="bench", currency=scenario.currency, timezone="UTC"
    )
    marketplace.upsert_organizers(client, [OrganizerIn(external_id="org", name="Bench organizer")])
    organizer = MarketplaceOrganizer.objects.get(client=client, external_id="org")
    _events(client, now + timedelta(days=scenario.days))
    event = MarketplaceEvent.objects.get(client=client, external_id="event")
    ensure_demo_accounts(client)
    wanted = {(segment.platform, segment.campaign_type): segment for segment in scenario.segments}
    past = MarketplaceEvent.objects.get(client=client, external_id="past")
    land_history(client, event, past, now, history_sizes(wanted))
    for provider, code_settings in TRACKING_CODES.items():
        tracking.create_code(
            organizer,
            tracking.CodeInput(
                provider=provider,
                settings={"conversion_events": ["purchase"], **code_settings},
            ),
        )
    ready_audiences(event, wanted, now)
    budget = services.request_budget(
        organizer,
        services.BudgetRequest(
            amount=Decimal(str(scenario.total_budget)),
            event_id=event.pk,
            daily_budget_limit=None
            if scenario.daily_budget_limit is None
            else Decimal(str(scenario.daily_budget_limit)),
            platform_allocations=_shares(scenario),
            target_cpa=None if scenario.target_cpa is None else Decimal(str(scenario.target_cpa)),
            target_roas=None
            if scenario.target_roas is None
            else Decimal(str(scenario.target_roas)),
            image_url=DEMO_IMAGE_URL,
        ),
    )
    services.confirm_payment(
        budget.pk, reference="BENCH", amount_received=budget.requested_amount, user=None
    )
    for campaign in AutomatedCampaign.objects.filter(
        budget=budget, status=CampaignStatus.PENDING_REVIEW
    ).order_by("pk"):
        segment = wanted.get((campaign.platform, campaign.campaign_type))
        if segment is None:
            publishing.reject_campaign(campaign.pk, user=None, reason="not in this market")
            continue
        _segment_creatives(event, campaign, [c.name for c in segment.creatives])
        publishing.approve_campaign(campaign.pk, user=None)
    not_run = {
        f"{c.platform}/{c.campaign_type}": c.status_reason or c.last_error or c.status
        # Paused is on the platform: spend control may pause a campaign at publication
        # and fund it on its next round.
        for c in AutomatedCampaign.objects.filter(budget=budget).exclude(status__in=LIVE_STATUSES)
        if (c.platform, c.campaign_type) in wanted
    }
    return client, event, not_run


def _events(client: MarketplaceClient, starts_at: datetime) -> None:
    """This flight's event, and an earlier one whose buyers are the organizer's history."""
    common = {
        "organizer_external_id": "org",
        "venue": "Sala Polivalentă",
        "city": "Cluj-Napoca",
        "country": "RO",
        "currency": client.currency,
    }
    marketplace.upsert_events(
        client,
        [
            EventIn(
                external_id="event",
                slug="bench-night",
                name="Bench Night",
                starts_at=starts_at,
                public_url="https://tickets.bench.example/e/bench-night",
                status=EventStatus.PUBLISHED,
                **common,
            ),
            EventIn(
                external_id="past",
                slug="bench-last-year",
                name="Bench Night last year",
                starts_at=starts_at - timedelta(days=PAST_PURCHASES_DAYS_AGO + 30),
                public_url="https://tickets.bench.example/e/bench-last-year",
                status=EventStatus.ENDED,
                **common,
            ),
        ],
    )


def _shares(scenario: Scenario) -> dict[str, dict[str, str]]:
    """Each platform's percentage of the budget in proportion to its segments, rounded
    down (so they never add up to more than 100): the equal split per campaign."""
    count = len(scenario.segments)
    return {
        platform: {
            "percentage": str(
                (
                    Decimal(100) * sum(s.platform == platform for s in scenario.segments) / count
                ).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            )
        }
        for platform in sorted({s.platform for s in scenario.segments})
    }


def _segment_creatives(
    event: MarketplaceEvent, campaign: AutomatedCampaign, names: list[str]
) -> None:
    """The segment's creatives as the campaign's variants (A, B, ...), each named first
    in its headline and text, as staff enter them in the review's creative inline."""
    template = campaign.creatives.order_by("variant").first()
    assert template is not None
    campaign.creatives.all().delete()
    CampaignCreative.objects.bulk_create(
        CampaignCreative(
            campaign=campaign,
            variant=chr(ord("A") + index),
            headline=f"{name} · {event.name}",
            description=f"{name}: {template.description}",
            landing_url=landing_url(event, campaign, chr(ord("A") + index)),
            image_url=template.image_url,
            video_url=template.video_url,
        )
        for index, name in enumerate(names)
    )
