"""Load the demo marketplace and print how to log in."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from usher.marketplace.demo import (
    DEMO_PASSWORD,
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

    def handle(self, *args, **options) -> None:
        if options["once"] and demo_loaded():
            client = MarketplaceClient.objects.get(slug="tixello")
            self.stdout.write("Demo data already loaded.")
        else:
            client = load_demo_marketplace()
            self.stdout.write(self.style.SUCCESS("Demo marketplace loaded."))
        creds = issue_demo_credentials(client)
        base = "http://127.0.0.1:8000"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Admin:            {base}/admin/  (staff / {DEMO_PASSWORD}, marketplace staff of {client.name})",
                    f"  Organizer login:  organizer / {DEMO_PASSWORD}  ({creds.organizer.name})",
                    f"  API docs:         {base}/api/docs",
                    f"  Ingest API key:   {creds.api_key}",
                    f"  Organizer token:  {creds.organizer_token}",
                    f"  Site key:         {client.site_key}",
                    f"  Try:  curl -H 'Authorization: Bearer {creds.organizer_token}' {base}/api/marketplace-client/organizer/events",
                    "",
                ]
            )
        )
