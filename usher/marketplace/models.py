"""The marketplace's entities, mirrored from the ticketing core through the ingest API.

Rows are keyed by the core's external ids (unique per client) so that ingest is an
idempotent upsert. Customer PII never lands here in plaintext: orders keep only the
per-platform normalized and hashed user data.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from usher.lib.secrets import display_prefix, generate_secret, hash_secret
from usher.lib.tenancy import TenantManager
from usher.lib.timezones import validate_zone_name

CLIENT_API_KEY_PREFIX = "ush_cli_"
ORGANIZER_TOKEN_PREFIX = "ush_org_"
SITE_KEY_PREFIX = "ush_site_"

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. EUR.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166-1 code, e.g. RO.")
slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "Use lowercase letters, digits and single dashes."
)


def new_site_key() -> str:
    return f"{SITE_KEY_PREFIX}{secrets.token_urlsafe(18)}"


class ConsentPolicy(models.TextChoices):
    """What server-side delivery may do when a visitor has not given marketing consent."""

    MARKETING_CONSENT = "marketing_consent", "Send only with the visitor's marketing consent"
    LEGITIMATE_INTEREST = (
        "legitimate_interest",
        "Without consent, send a minimal form under legitimate interest (no personal data)",
    )


class MarketplaceClient(models.Model):
    """A marketplace (e.g. Tixello) running Usher beside its ticketing core."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_validator])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_zone_name])
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins allowed to call the browser endpoints."
    )
    site_key = models.CharField(
        max_length=64, unique=True, default=new_site_key, help_text="Public key for browser calls."
    )
    api_key_hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    api_key_prefix = models.CharField(max_length=16, blank=True, editable=False)
    consent_policy = models.CharField(
        max_length=30, choices=ConsentPolicy.choices, default=ConsentPolicy.MARKETING_CONSENT
    )
    meta_limited_data_use = models.BooleanField(
        default=False,
        help_text="Flag events sent to Meta for Limited Data Use (US state privacy laws).",
    )
    allow_organizer_tag_managers = models.BooleanField(
        default=True,
        help_text=(
            "Let organizers add tag managers (GTM), whose containers run any script they "
            "configure on this marketplace's pages, checkout included."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def rotate_api_key(self) -> str:
        """Issue a new secret API key; returns the plaintext, which is never stored."""
        secret = generate_secret(CLIENT_API_KEY_PREFIX)
        self.api_key_hash = hash_secret(secret)
        self.api_key_prefix = display_prefix(secret)
        self.save(update_fields=["api_key_hash", "api_key_prefix", "updated_at"])
        return secret


class OrganizerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class MarketplaceOrganizer(models.Model):
    """An event organizer selling tickets on a marketplace."""

    client = models.ForeignKey(
        MarketplaceClient, on_delete=models.CASCADE, related_name="organizers"
    )
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    website = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=OrganizerStatus.choices, default=OrganizerStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "id"
    objects = TenantManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"], name="uniq_organizer_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == OrganizerStatus.ACTIVE and self.client.is_active


# Meta allows 9,999 characters in a catalog item's description, TikTok 10,000.
EVENT_DESCRIPTION_MAX_CHARS = 5000
# An event's ticket price column: optional, never negative.
TICKET_PRICE: dict[str, Any] = {
    "max_digits": 12,
    "decimal_places": 2,
    "null": True,
    "blank": True,
    "validators": [MinValueValidator(0)],
}


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    CANCELLED = "cancelled", "Cancelled"
    ENDED = "ended", "Ended"


class MarketplaceEvent(models.Model):
    """An event whose page carries the organizer's and the marketplace's tracking codes."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="events")
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="events"
    )
    external_id = models.CharField(max_length=100)
    slug = models.SlugField(max_length=200, validators=[slug_validator])
    name = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    venue = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[country_validator])
    category = models.CharField(max_length=80, blank=True)
    genre = models.CharField(max_length=80, blank=True)
    public_url = models.URLField(max_length=500, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    status = models.CharField(max_length=20, choices=EventStatus.choices, default=EventStatus.DRAFT)
    # What the platforms' catalogs show (docs/catalog.md); all optional in the ingest.
    description = models.TextField(blank=True, max_length=EVENT_DESCRIPTION_MAX_CHARS)
    image_url = models.URLField(max_length=500, blank=True)
    price_min = models.DecimalField(
        **TICKET_PRICE, help_text="The cheapest ticket on sale, in the event's currency."
    )
    price_max = models.DecimalField(**TICKET_PRICE, help_text="The dearest ticket on sale.")
    tickets_left = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tickets still on sale; empty when the core does not say."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"], name="uniq_event_external_id"
            ),
            models.UniqueConstraint(fields=["client", "slug"], name="uniq_event_slug"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gte=models.F("starts_at")),
                name="event_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_max__gte=models.F("price_min")),
                name="event_price_range_ordered",
            ),
        ]
        indexes = [models.Index(fields=["organizer", "starts_at"])]

    def __str__(self) -> str:
        return self.name


class OrderStatus(models.TextChoices):
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"


class AdClickAttribution(models.Model):
    """The ad click ids and campaign tags a visit arrived with: shared by orders, stored
    browser events and visitor touches, so attribution reads one set of columns."""

    fbc = models.CharField(max_length=500, blank=True)  # Meta's _fbc, built from fbclid if need be
    gclid = models.CharField(max_length=200, blank=True)
    gbraid = models.CharField(max_length=200, blank=True)
    wbraid = models.CharField(max_length=200, blank=True)
    ttclid = models.CharField(max_length=200, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)

    FIELD_NAMES: ClassVar[tuple[str, ...]] = (
        "fbc",
        "gclid",
        "gbraid",
        "wbraid",
        "ttclid",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
    )

    class Meta:
        abstract = True

    def ad_click_values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.FIELD_NAMES}


class Order(AdClickAttribution):
    """A ticket order from the core: the authoritative source of purchase conversions."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="orders")
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="orders"
    )
    event = models.ForeignKey(MarketplaceEvent, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=100)
    value = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, validators=[currency_validator])
    tickets_count = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    placed_at = models.DateTimeField(help_text="When the order was created in the core.")
    # Normalized and SHA-256-hashed customer data, one dict per platform (their rules differ);
    # the plaintext is dropped on ingest.
    hashed_user_data = models.JSONField(default=dict, blank=True)
    customer_country = models.CharField(max_length=2, blank=True)
    # What the checkout saw, when the core passes it: used for matching and attribution.
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    fbp = models.CharField(max_length=200, blank=True)
    ttp = models.CharField(max_length=200, blank=True)
    # The checkout request's network data, when the core passes it (Meta needs a user
    # agent for website events); purged once no delivery needs it.
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    # The buyer's consent choices as the core recorded them (same keys as the collector's);
    # empty when the core does not know, and then the checkout's browser event decides.
    consent = models.JSONField(default=dict, blank=True)
    # Set once the paid order has been turned into deliveries (see TrackingEvent).
    fanned_out_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"], name="uniq_order_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["organizer", "placed_at"]),
            models.Index(fields=["event", "status"]),
            models.Index(
                fields=["updated_at"],
                condition=Q(fanned_out_at__isnull=True, status="paid"),
                name="order_not_fanned_out_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_id}"


class OrderLine(models.Model):
    """One ticket line of an order (a ticket type, how many, at what unit price), sent to
    the platforms as the purchase's contents/items."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(help_text="The line's place in the order.")
    ticket_type_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="uniq_order_line_position"),
            models.UniqueConstraint(
                fields=["order", "ticket_type_id"], name="uniq_order_line_ticket_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    def as_tuple(self) -> tuple[str, str, int, Decimal]:
        """What the core sent for this line: equal tuples mean nothing to write."""
        return (self.ticket_type_id, self.name, self.quantity, self.unit_price)


class OrganizerApiTokenQuerySet(models.QuerySet):
    def active(self) -> OrganizerApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def revoke(self) -> int:
        """Revoke the active tokens of this queryset (the admin's action, the command and
        the demo's fresh credentials alike); already revoked ones keep their date.
        Returns how many were revoked."""
        return self.active().update(revoked_at=timezone.now())


class OrganizerApiToken(models.Model):
    """A bearer token the marketplace issues to one organizer for the organizer API."""

    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="API token")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OrganizerApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.organizer})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(
        cls, organizer: MarketplaceOrganizer, name: str = "API token"
    ) -> tuple[OrganizerApiToken, str]:
        """Create a token; returns the row and the plaintext, which is shown once."""
        secret = generate_secret(ORGANIZER_TOKEN_PREFIX)
        token = cls.objects.create(
            organizer=organizer,
            name=name,
            token_hash=hash_secret(secret),
            token_prefix=display_prefix(secret),
        )
        return token, secret


class User(AbstractUser):
    """A person who logs in: marketplace staff (of one client, or superusers across
    clients) or an organizer user linked to one organizer."""

    client = models.ForeignKey(
        MarketplaceClient,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        help_text="The marketplace this person works for or sells on (empty for superusers).",
    )
    organizer = models.ForeignKey(
        MarketplaceOrganizer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        help_text="Set for organizer users: the only organizer they see.",
    )

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(organizer__isnull=True) | Q(client__isnull=False),
                name="organizer_user_has_client",
            )
        ]

    def clean(self) -> None:
        super().clean()
        if self.organizer_id is None:
            return
        if self.client_id is None:
            self.client_id = self.organizer.client_id
        elif self.organizer.client_id != self.client_id:
            raise ValidationError({"organizer": "This organizer sells on another marketplace."})
