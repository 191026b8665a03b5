"""The panel's demo: the demo organizer's budget, paid and approved, its suite published
on the sandbox, and a simulated day of the example ad market delivered, synced and
attributed, so `make run` shows every organizer page filled.

It runs once the sandbox answers (`run_all --demo`), before the demo's credentials are
issued: it uses its own ingest key, which the credentials step rotates right after, so
what is printed is always current. A second run finds the budget and does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from usher.campaigns import publishing, services
from usher.campaigns.models import (
    AdAccount,
    AdCampaignBudget,
    AutomatedCampaign,
    CampaignStatus,
    CredentialKind,
)
from usher.lib.errors import InvalidInput
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
from usher.marketplace.schemas import EventIn
from usher.marketplace.simulation import (
    DriveSummary,
    Marketplace,
    SandboxMarket,
    drive,
    lifted_management_limits,
    simulated_django_clock,
)
from usher.sandbox.market import Scenario, load_scenario

DEMO_SCENARIO = Path(settings.BASE_DIR) / "bench" / "markets" / "example.json"
DEMO_DAYS = 1
DEMO_BUDGET = Decimal("15000.00")
# TikTok's smallest daily budget in RON is 100: every demo campaign asks a little more.
DEMO_DAILY_WISH = Decimal("120.00")
# TikTok ads need an image: the demo's ads carry this one.
DEMO_IMAGE_URL = "https://tixello.example/images/sunwave-winter-warm-up.jpg"
# The marketplace's own ad accounts on the sandbox (any `sandbox-` token is accepted).
DEMO_ACCOUNTS = {
    "meta": (
        "act_1234567890",
        CredentialKind.ACCESS_TOKEN,
        "sandbox-meta-token",
        {
            "page_id": "1029384756",
            "pixel_id": "123456789012345",
            "catalog": True,
            "business_id": "5550001112",
        },
    ),
    "google_ads": (
        "1234567890",
        CredentialKind.REFRESH_TOKEN,
        "sandbox-refresh-token",
        {"catalog": True},
    ),
    "tiktok": (
        "7000000000000000001",
        CredentialKind.ACCESS_TOKEN,
        "sandbox-tiktok-token",
        {
            "pixel_id": "CSANDBOXPIXEL0000001",
            "identity_id": "7000000000000000099",
            "catalog": True,
            "bc_id": "7001234567890123456",
            "catalog_region": "RO",
        },
    ),
}


def ensure_demo_accounts(client: MarketplaceClient) -> None:
    for platform, (account_id, kind, credential, extra) in DEMO_ACCOUNTS.items():
        account, created = AdAccount.objects.get_or_create(
            client=client,
            organizer=None,
            platform=platform,
            account_id=account_id,
            defaults={
                "currency": client.currency,
                "timezone": client.timezone,
                "settings": extra,
                "credential_kind": kind,
            },
        )
        if created:
            account.set_credential(credential)
            account.save(update_fields=["credential_encrypted"])


def _past_event(
    client: MarketplaceClient, organizer: MarketplaceOrganizer, now: datetime
) -> MarketplaceEvent:
    """Last season's edition: its buyers are the organizer's lookalike seed."""
    marketplace.upsert_events(
        client,
        [
            EventIn(
                external_id=f"{organizer.external_id}-last-season",
                organizer_external_id=organizer.external_id,
                slug=f"{organizer.external_id}-last-season",
                name=f"{organizer.name}: last season",
                starts_at=now - timedelta(days=PAST_PURCHASES_DAYS_AGO - 30),
                public_url=f"https://tixello.example/events/{organizer.external_id}-last-season",
                currency=client.currency,
                status=EventStatus.ENDED,
            )
        ],
    )
    return MarketplaceEvent.objects.get(
        client=client, external_id=f"{organizer.external_id}-last-season"
    )


def load_demo_campaigns(
    client: MarketplaceClient,
    organizer: MarketplaceOrganizer,
    http: httpx.Client,
    *,
    days: int = DEMO_DAYS,
    progress: Callable[[str], None] = print,
) -> DriveSummary | None:
    """Budget, suite, publication and `days` of market for `organizer`; None if done before."""
    if AdCampaignBudget.objects.filter(organizer=organizer).exists():
        progress("Demo campaigns already loaded.")
        return None
    event = (
        organizer.events.filter(status=EventStatus.PUBLISHED).order_by("starts_at", "pk").first()
    )
    if event is None:
        progress(f"Demo campaigns skipped: {organizer} has no published event.")
        return None
    scenario = load_scenario(DEMO_SCENARIO)
    data = json.loads(DEMO_SCENARIO.read_text(encoding="utf-8"))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    data["start"] = (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    with override_settings(**lifted_management_limits()):
        return _play(client, organizer, event, SandboxMarket(http), scenario, data, days, progress)


def _play(
    client: MarketplaceClient,
    organizer: MarketplaceOrganizer,
    event: MarketplaceEvent,
    sandbox: SandboxMarket,
    scenario: Scenario,
    data: dict,
    days: int,
    progress: Callable[[str], None],
) -> DriveSummary:
    """The market loaded, the budget paid and its suite published at the simulated start,
    then `days` played."""
    sandbox.load(data, None)
    progress(f"Loaded the market scenario {scenario.name!r} into the sandbox.")
    wanted = {(segment.platform, segment.campaign_type) for segment in scenario.segments}
    with simulated_django_clock(lambda: sandbox.now or datetime.now(UTC)):
        ensure_demo_accounts(client)
        now = timezone.now()
        land_history(client, event, _past_event(client, organizer, now), now, history_sizes(wanted))
        ready_audiences(event, wanted, now)
        progress("Landed the organizer's past buyers and visitors; its audiences are synced.")
        budget = services.request_budget(
            organizer,
            services.BudgetRequest(
                amount=DEMO_BUDGET,
                event_id=event.pk,
                target_cpa=Decimal(str(scenario.target_cpa)) if scenario.target_cpa else None,
                target_roas=Decimal(str(scenario.target_roas)) if scenario.target_roas else None,
                image_url=DEMO_IMAGE_URL,
                notes="The demo's budget.",
            ),
        )
        with transaction.atomic():
            services.confirm_payment(
                budget.pk, reference="DEMO-TRANSFER", amount_received=DEMO_BUDGET, user=None
            )
        suite = AutomatedCampaign.objects.filter(budget=budget)
        suite.update(desired_daily_budget=DEMO_DAILY_WISH)
        approved = 0
        for campaign in suite.filter(status=CampaignStatus.PENDING_REVIEW):
            if (campaign.platform, campaign.campaign_type) not in wanted:
                continue  # left in the staff's approval queue
            try:
                with transaction.atomic():
                    publishing.approve_campaign(campaign.pk, user=None)
            except InvalidInput as exc:
                progress(f"  {campaign.name}: not approved ({exc.message})")
            else:
                approved += 1
        live = suite.filter(status=CampaignStatus.ACTIVE).count()
        progress(
            f"Budget {budget.pk} paid; {approved} campaigns approved, {live} live on the sandbox."
        )
    api_key = client.rotate_api_key()
    summary = drive(
        sandbox, Marketplace(client, event, api_key), hours=days * 24, progress=progress
    )
    progress(
        f"Simulated {summary.hours} h for {event.slug}: {summary.visits} visits, "
        f"{summary.orders} orders."
    )
    return summary
