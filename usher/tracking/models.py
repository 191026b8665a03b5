"""Tracking codes: the organizers' (per event, or a default for all their events) and the
marketplace's own (dual tracking).

Uniqueness lives in the database as two partial unique indexes (supported by PostgreSQL
and SQLite alike): a plain unique (organizer, event, provider) would let any number of
defaults through, because NULLs never compare equal. Credentials are Fernet-encrypted in
their own columns, so `settings` can be returned and logged freely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.db import models
from django.db.models import Q

from usher.lib.crypto import decrypt_secret, encrypt_secret
from usher.lib.tenancy import TenantManager
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.resolved import Provider

if TYPE_CHECKING:
    from usher.tracking.providers import ProviderSpec

# Secrets a code may carry, named as the API accepts them inside `settings`; each is
# stored in the column `<name>_encrypted` and is write-only everywhere. Which one a
# provider uses is its spec's `secret` (Google Ads: the OAuth refresh token).
SECRET_NAMES: tuple[str, ...] = ("access_token", "api_secret", "refresh_token")


class TrackingCodeBase(models.Model):
    """What organizer and marketplace codes share: provider, settings and credentials."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    enabled = models.BooleanField(default=True)
    settings = models.JSONField(
        default=dict, blank=True, help_text="The provider's id and options; never secrets."
    )
    access_token_encrypted = models.TextField(blank=True, default="", editable=False)
    api_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    refresh_token_encrypted = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Columns `manage.py rotate_secrets` re-encrypts under the newest key.
    ENCRYPTED_FIELDS: ClassVar[tuple[str, ...]] = tuple(f"{n}_encrypted" for n in SECRET_NAMES)

    class Meta:
        abstract = True

    # --- credentials: written encrypted, read only through these methods ---

    def set_secret(self, name: str, plaintext: str | None) -> None:
        """Store (or with an empty value, remove) a credential; the plaintext is not kept."""
        column = self._secret_column(name)
        setattr(self, column, encrypt_secret(plaintext) if plaintext else "")

    def has_secret(self, name: str) -> bool:
        return bool(getattr(self, self._secret_column(name)))

    def get_secret(self, name: str) -> str | None:
        """The decrypted credential, for the server-side senders only; never render it."""
        stored = getattr(self, self._secret_column(name))
        return decrypt_secret(stored) if stored else None

    @property
    def has_access_token(self) -> bool:
        return self.has_secret("access_token")

    @property
    def has_api_secret(self) -> bool:
        return self.has_secret("api_secret")

    @property
    def has_refresh_token(self) -> bool:
        return self.has_secret("refresh_token")

    @property
    def has_credential(self) -> bool:
        """Whether the credential this provider sends with (its spec's secret) is set."""
        spec = self._spec()
        return spec is not None and bool(spec.secret) and self.has_secret(spec.secret)

    def _spec(self) -> ProviderSpec | None:
        """The provider's spec; None while no known provider is chosen (the admin's empty
        "add" form renders these properties before a provider is picked)."""
        from usher.tracking.providers import SPECS

        return SPECS.get(self.provider)

    @staticmethod
    def _secret_column(name: str) -> str:
        if name not in SECRET_NAMES:
            raise ValueError(f"unknown secret {name!r}")
        return f"{name}_encrypted"

    # --- display helpers ---

    @property
    def tag_id(self) -> str:
        """The provider's id (pixel id, measurement id...), whichever key it lives under."""
        spec = self._spec()
        return str(self.settings.get(spec.id_field, "")) if spec else ""


class EventTrackingCode(TrackingCodeBase):
    """An organizer's code: for one event, or (event NULL) the default for all its events."""

    client = models.ForeignKey(
        MarketplaceClient, on_delete=models.CASCADE, related_name="tracking_codes"
    )
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="tracking_codes"
    )
    event = models.ForeignKey(
        MarketplaceEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracking_codes",
        help_text="Empty: the organizer's default for all its events.",
    )

    objects = TenantManager()

    class Meta:
        ordering = ["provider", "event_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organizer", "event", "provider"],
                condition=Q(event__isnull=False),
                name="uniq_tracking_code_per_event",
                violation_error_message="This event already has a code for this provider.",
            ),
            models.UniqueConstraint(
                fields=["organizer", "provider"],
                condition=Q(event__isnull=True),
                name="uniq_tracking_code_default",
                violation_error_message="This organizer already has a default for this provider.",
            ),
            models.CheckConstraint(
                condition=Q(provider__in=Provider.values), name="tracking_code_known_provider"
            ),
        ]
        indexes = [
            models.Index(fields=["event", "provider", "enabled"], name="tracking_event_prov_idx"),
            models.Index(fields=["organizer", "enabled"], name="tracking_org_enabled_idx"),
        ]

    def __str__(self) -> str:
        scope = f"event {self.event_id}" if self.event_id else "default"
        return f"{self.get_provider_display()} {self.tag_id} ({self.organizer_id}, {scope})"


class MarketplaceTrackingCode(TrackingCodeBase):
    """The marketplace's own pixels and accounts, on every event page beside the
    organizer's; managed by the marketplace's staff only (no organizer path)."""

    client = models.ForeignKey(
        MarketplaceClient, on_delete=models.CASCADE, related_name="own_tracking_codes"
    )
    name = models.CharField(max_length=100, blank=True, help_text="A label for staff.")

    # No organizer owns these rows: organizer-scoped queries find none.
    TENANT_ORGANIZER_PATH: ClassVar[str | None] = None
    objects = TenantManager()

    class Meta:
        ordering = ["provider", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(provider__in=Provider.values),
                name="marketplace_tracking_code_known_provider",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "enabled"], name="tracking_mkt_client_idx"),
        ]

    def __str__(self) -> str:
        label = self.name or self.tag_id
        return f"{self.get_provider_display()} {label} (marketplace)"
