"""Revoke organizer API tokens by their displayed prefix."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from usher.marketplace.models import OrganizerApiToken


class Command(BaseCommand):
    help = "Revoke the organizer API token whose prefix is given (as listed in the admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args, **options) -> None:
        revoked = OrganizerApiToken.objects.filter(token_prefix=options["prefix"]).revoke()
        if not revoked:
            raise CommandError(f"no active token with prefix {options['prefix']!r}")
        self.stdout.write(f"Revoked {revoked} token(s).")
