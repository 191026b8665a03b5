"""Issue an API token for one organizer; prints the plaintext once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from usher.marketplace.models import MarketplaceOrganizer, OrganizerApiToken


class Command(BaseCommand):
    help = "Issue an organizer API token (printed once; only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="The marketplace client's slug.")
        parser.add_argument("--organizer", required=True, help="The organizer's external id.")
        parser.add_argument("--name", default="API token", help="A label for the token.")

    def handle(self, *args, **options) -> None:
        organizer = MarketplaceOrganizer.objects.filter(
            client__slug=options["client"], external_id=options["organizer"]
        ).first()
        if organizer is None:
            raise CommandError(
                f"no organizer {options['organizer']!r} in client {options['client']!r}"
            )
        token, secret = OrganizerApiToken.issue(organizer, name=options["name"])
        self.stdout.write(f"Token {token.token_prefix}… for {organizer} (id {token.pk}):")
        self.stdout.write(secret)
