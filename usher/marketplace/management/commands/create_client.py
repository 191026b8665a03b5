"""Create a marketplace client and print its secret API key (once) and public site key."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from usher.marketplace.models import MarketplaceClient


class Command(BaseCommand):
    help = "Create a marketplace client; prints its secret API key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            dest="origins",
            help="An origin allowed to call the browser endpoints (repeatable).",
        )

    def handle(self, *args, **options) -> None:
        try:
            ZoneInfo(options["timezone"])
        except (KeyError, ValueError) as exc:
            raise CommandError(f"unknown time zone {options['timezone']!r}") from exc
        client = MarketplaceClient(
            name=options["name"],
            slug=options["slug"],
            currency=options["currency"].upper(),
            timezone=options["timezone"],
            allowed_origins=options["origins"],
        )
        try:
            client.full_clean()
        except ValidationError as exc:
            raise CommandError(f"invalid client: {exc.message_dict}") from exc
        with transaction.atomic():
            client.save()
            secret = client.rotate_api_key()
        self.stdout.write(f"Created client {client.slug} (id {client.pk}).")
        self.stdout.write(f"Site key (public, for tracker.js): {client.site_key}")
        self.stdout.write(f"API key (secret, shown once):     {secret}")
