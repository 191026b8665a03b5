"""Bearer authentication for the ingest API (client secret key) and the organizer API
(organizer tokens). Both compare SHA-256 hashes; no plaintext secret is stored."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from usher.lib.secrets import hash_secret
from usher.marketplace.models import (
    CLIENT_API_KEY_PREFIX,
    ORGANIZER_TOKEN_PREFIX,
    MarketplaceClient,
    MarketplaceOrganizer,
    OrganizerApiToken,
    OrganizerStatus,
)

# Writing last_used_at on every call would turn each read into a write; a coarse stamp is enough.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class ClientKeyAuth(HttpBearer):
    """The ticketing core's server-to-server key: `Authorization: Bearer ush_cli_...`."""

    def authenticate(self, request: HttpRequest, token: str) -> MarketplaceClient | None:
        if not token.startswith(CLIENT_API_KEY_PREFIX):
            return None
        return MarketplaceClient.objects.filter(
            api_key_hash=hash_secret(token), is_active=True
        ).first()


class OrganizerTokenAuth(HttpBearer):
    """An organizer's API token: `Authorization: Bearer ush_org_...`; request.auth is the
    organizer, so every organizer endpoint starts from its scope."""

    def authenticate(self, request: HttpRequest, token: str) -> MarketplaceOrganizer | None:
        if not token.startswith(ORGANIZER_TOKEN_PREFIX):
            return None
        api_token = (
            OrganizerApiToken.objects.active()
            .select_related("organizer__client")
            .filter(
                token_hash=hash_secret(token),
                organizer__status=OrganizerStatus.ACTIVE,
                organizer__client__is_active=True,
            )
            .first()
        )
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            OrganizerApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        return api_token.organizer
