"""`manage.py simulate_market --scenario FILE --days N [--speed HOURS_PER_SECOND]`.

Plays the marketplace around Usher against the sandbox's market simulator (see
usher/marketplace/simulation.py and docs/simulator.md): loads the scenario into the
sandbox, launches one campaign per segment at the equal-split budget (until Usher's
own campaigns publish there), then advances hour by hour, running Usher's periodic
jobs at their simulated times and sending visits and orders as the marketplace would.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from usher.marketplace.models import EventStatus, MarketplaceClient, MarketplaceEvent
from usher.marketplace.simulation import (
    DEFAULT_VISITS_PER_AD_HOUR,
    DriverError,
    Marketplace,
    SandboxMarket,
    drive,
    equal_split_campaigns,
)
from usher.sandbox.market import ScenarioError, load_scenario

SANDBOX_TIMEOUT_SECONDS = 60.0
MAX_DAYS = 120


class Command(BaseCommand):
    # sandbox_http: an httpx client to the sandbox (tests mount it in-process)
    stealth_options = ("sandbox_http",)
    help = "Drive a simulated ad market: advance the sandbox's clock, run Usher's jobs, post visits and orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", type=Path, required=True)
        parser.add_argument(
            "--days", type=int, required=True, help=f"simulated days (1-{MAX_DAYS})"
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=0.0,
            help="simulated hours per wall-clock second (default 0: as fast as it goes)",
        )
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--client", default="tixello", help="marketplace client slug")
        parser.add_argument("--event", default=None, help="event slug (default: the next one)")
        parser.add_argument(
            "--api-key", default=None, help="the client's ingest API key (default: rotate it)"
        )
        parser.add_argument("--sandbox-url", default=None, help="default: settings.SANDBOX_URL")
        parser.add_argument(
            "--keep-start",
            action="store_true",
            help="start at the scenario's own start (default: so the run ends at this hour)",
        )
        parser.add_argument(
            "--no-campaigns",
            action="store_true",
            help="launch no equal-split campaigns (Usher's own campaigns must exist)",
        )
        parser.add_argument("--visits-per-ad-hour", type=int, default=DEFAULT_VISITS_PER_AD_HOUR)

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be 1 to {MAX_DAYS}")
        if options["speed"] < 0 or options["visits_per_ad_hour"] < 1:
            raise CommandError("--speed must not be negative, --visits-per-ad-hour at least 1")
        try:
            scenario = load_scenario(options["scenario"])
            data = json.loads(options["scenario"].read_text(encoding="utf-8"))
        except (ScenarioError, OSError) as exc:
            raise CommandError(f"cannot load {options['scenario']}: {exc}") from exc
        if not options["keep_start"]:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            data["start"] = (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")
        client = MarketplaceClient.objects.filter(slug=options["client"]).first()
        if client is None:
            raise CommandError(f"no marketplace client {options['client']!r}")
        event = self._event(client, options["event"])
        api_key = options["api_key"] or client.rotate_api_key()
        if not options["api_key"]:
            self.stdout.write(f"Rotated the ingest API key of {client.slug}: {api_key}")
        base_url = options["sandbox_url"] or settings.SANDBOX_URL
        given = options.get("sandbox_http")
        with (
            contextlib.nullcontext(given)
            if given is not None
            else httpx.Client(base_url=base_url, timeout=SANDBOX_TIMEOUT_SECONDS)
        ) as http:
            sandbox = SandboxMarket(http)
            try:
                sandbox.load(data, options["seed"])
                if not options["no_campaigns"]:
                    landing = (
                        event.public_url or f"https://{client.slug}.example/events/{event.slug}/"
                    )
                    launched = equal_split_campaigns(sandbox, scenario, landing)
                    self.stdout.write(f"Launched {len(launched)} equal-split campaigns.")
                summary = drive(
                    sandbox,
                    Marketplace(client, event, api_key),
                    hours=days * 24,
                    visits_per_ad_hour=options["visits_per_ad_hour"],
                    hours_per_second=options["speed"],
                    progress=self.stdout.write,
                )
            except (DriverError, httpx.HTTPError) as exc:
                raise CommandError(f"simulation stopped: {exc}") from exc
        truth = summary.truth
        jobs = ", ".join(f"{name}: {count}" for name, count in sorted(summary.jobs.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Simulated {summary.hours} h of {scenario.name!r} for {event.slug}: "
                f"{summary.visits} visits, {summary.orders} orders; spend {truth['spend']:,.2f}, "
                f"expected revenue {truth['expected_revenue']:,.2f}, realized "
                f"{truth['realized_revenue']:,.2f} {scenario.currency}. Jobs: {jobs or 'none'}."
            )
        )

    @staticmethod
    def _event(client: MarketplaceClient, slug: str | None) -> MarketplaceEvent:
        events = MarketplaceEvent.objects.filter(client=client)
        event = (
            events.filter(slug=slug).first()
            if slug
            else events.filter(status=EventStatus.PUBLISHED).order_by("starts_at").first()
        )
        if event is None:
            raise CommandError(
                f"no event {slug!r} of {client.slug}" if slug else "no published event"
            )
        return event
