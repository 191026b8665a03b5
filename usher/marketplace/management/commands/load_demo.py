"""Load the demo marketplace and print how to log in."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from usher.marketplace.demo import (
    DEMO_BASE_URL,
    demo_banner,
    demo_loaded,
    issue_demo_credentials,
    load_demo_marketplace,
)
from usher.marketplace.models import MarketplaceClient


class Command(BaseCommand):
    help = "Load a demo marketplace (one client, organizers, events, orders) and print logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Skip loading if the demo client already exists."
        )
        parser.add_argument(
            "--base-url", default=DEMO_BASE_URL, help="Where the demo is served (printed links)."
        )
        parser.add_argument(
            "--no-credentials",
            action="store_true",
            help="Load only; `run_all --demo` issues and prints the credentials once it is up.",
        )

    def handle(self, *args, **options) -> None:
        if options["once"] and demo_loaded():
            client = MarketplaceClient.objects.get(slug="tixello")
            self.stdout.write("Demo data already loaded.")
        else:
            client = load_demo_marketplace()
            self.stdout.write(self.style.SUCCESS("Demo marketplace loaded."))
        if options["no_credentials"]:
            return
        base_url = options["base_url"].rstrip("/")
        creds = issue_demo_credentials(client, base_url)
        self.stdout.write(demo_banner(creds, base_url, settings.SANDBOX_URL))
