"""Budgets, ad accounts and automated campaigns (plan 2.1, 2.2; issue 18's additions).

Money that moves is never a mutable number alone: every change of a budget's funds is an
append-only `BudgetLedgerEntry`, and the cached `total_budget` / `spent_budget` columns
are recomputed from those rows under the budget's row lock (`usher.campaigns.ledger`).
Campaign-management credentials are Fernet-encrypted and write-only, like tracking codes'.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from usher.audiences.models import AudiencePlatform
from usher.lib.crypto import decrypt_secret, encrypt_secret
from usher.lib.tenancy import TenantManager
from usher.lib.timezones import validate_zone_name
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    currency_validator,
)
from usher.platforms import campaigns_base as contract

ZERO = Decimal("0.00")
CENTS = Decimal("0.01")
MONEY = {"max_digits": 12, "decimal_places": 2}
positive = MinValueValidator(Decimal("0.01"))
not_negative = MinValueValidator(ZERO)


# The ad platforms (GA4 and GTM only measure): the same three run audiences and campaigns.
AdPlatform = AudiencePlatform


# --- ad accounts ---


class AdAccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class CredentialKind(models.TextChoices):
    ACCESS_TOKEN = "access_token", "Access token (Meta, TikTok)"
    REFRESH_TOKEN = "refresh_token", "OAuth refresh token (Google Ads)"


class AdAccount(models.Model):
    """An ad account campaigns are published on: the marketplace's own (organizer NULL)
    or an organizer's, connected with a campaign-management credential (a conversions
    token cannot manage campaigns, so this is its own credential)."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    organizer = models.ForeignKey(
        MarketplaceOrganizer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="ad_accounts",
        help_text="Empty: the marketplace's own account.",
    )
    platform = models.CharField(max_length=20, choices=AdPlatform.choices)
    account_id = models.CharField(
        max_length=64,
        help_text="Meta `act_…`, Google Ads customer id (digits), TikTok advertiser id.",
    )
    manager_id = models.CharField(
        max_length=20, blank=True, help_text="Google Ads: the manager (login-customer-id)."
    )
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_zone_name])
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Non-secret options: pixel id, conversion action id, DSA beneficiary/payor.",
    )
    credential_kind = models.CharField(
        max_length=20, choices=CredentialKind.choices, default=CredentialKind.ACCESS_TOKEN
    )
    credential_encrypted = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(
        max_length=20, choices=AdAccountStatus.choices, default=AdAccountStatus.ACTIVE
    )
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    ENCRYPTED_FIELDS: ClassVar[tuple[str, ...]] = ("credential_encrypted",)
    objects = TenantManager()

    class Meta:
        ordering = ["platform", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "platform", "account_id"], name="uniq_ad_account"
            ),
            models.CheckConstraint(
                condition=Q(platform__in=AdPlatform.values), name="ad_account_known_platform"
            ),
        ]
        indexes = [models.Index(fields=["client", "organizer", "platform", "status"])]

    def __str__(self) -> str:
        owner = f"organizer {self.organizer_id}" if self.organizer_id else "marketplace"
        return f"{self.get_platform_display()} {self.account_id} ({owner})"

    def set_credential(self, plaintext: str | None) -> None:
        """Store (or with an empty value, remove) the credential; the plaintext is not kept."""
        self.credential_encrypted = encrypt_secret(plaintext) if plaintext else ""

    def get_credential(self) -> str | None:
        """The decrypted credential, for connectors only; never render or log it."""
        return decrypt_secret(self.credential_encrypted) if self.credential_encrypted else None

    @property
    def has_credential(self) -> bool:
        return bool(self.credential_encrypted)


# --- marketplace-wide campaign settings ---


class CampaignSettings(models.Model):
    """The marketplace's defaults for campaigns; a client without a row uses the module
    defaults in `usher.campaigns.budgets`."""

    client = models.OneToOneField(
        MarketplaceClient, on_delete=models.CASCADE, related_name="campaign_settings"
    )
    default_target_cpa = models.DecimalField(**MONEY, null=True, blank=True, validators=[positive])
    default_target_roas = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("3.00"), validators=[positive]
    )
    max_active_campaigns_per_organizer = models.PositiveIntegerField(default=24)
    allowed_platforms = models.JSONField(
        default=list, blank=True, help_text="Platforms suites may use; empty: all."
    )
    default_image_url = models.URLField(
        max_length=1000, blank=True, help_text="Ad image when a budget brings none."
    )

    class Meta:
        verbose_name_plural = "campaign settings"

    def __str__(self) -> str:
        return f"Campaign settings of {self.client}"


# --- budgets ---


class BudgetStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    EXHAUSTED = "exhausted", "Exhausted"
    CANCELLED = "cancelled", "Cancelled"


class AllocationStrategy(models.TextChoices):
    EQUAL_SPLIT = "equal_split", "Equal split"
    PERFORMANCE_BASED = "performance_based", "Performance based"
    MANUAL = "manual", "Manual"


class AdCampaignBudget(models.Model):
    """An organizer's advertising money for one event or (event NULL) all its events."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="ad_budgets"
    )
    event = models.ForeignKey(
        MarketplaceEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="ad_budgets",
        help_text="Empty: funds all the organizer's upcoming events.",
    )
    requested_amount = models.DecimalField(**MONEY, validators=[positive])
    # Cached from the ledger (paid in + adjustments - refunds, and spent as reported).
    total_budget = models.DecimalField(**MONEY, default=ZERO, editable=False)
    spent_budget = models.DecimalField(**MONEY, default=ZERO, editable=False)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    daily_budget_limit = models.DecimalField(**MONEY, null=True, blank=True, validators=[positive])
    status = models.CharField(
        max_length=20, choices=BudgetStatus.choices, default=BudgetStatus.PENDING_PAYMENT
    )
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    allocation_strategy = models.CharField(
        max_length=20, choices=AllocationStrategy.choices, default=AllocationStrategy.EQUAL_SPLIT
    )
    # {platform: {"percentage": 40, "daily_limit": "50.00"}}; the platforms a suite uses.
    platform_allocations = models.JSONField(default=dict, blank=True)
    target_cpa = models.DecimalField(**MONEY, null=True, blank=True, validators=[positive])
    target_roas = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[positive]
    )
    # The organizer's ad visuals for every campaign the budget funds (TikTok needs one).
    image_url = models.URLField(max_length=1000, blank=True)
    video_url = models.URLField(max_length=1000, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organizer", "status"], name="budget_organizer_status_idx"),
            models.Index(fields=["event", "status"], name="budget_event_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BudgetStatus.values), name="budget_known_status"
            ),
            models.CheckConstraint(
                condition=Q(spent_budget__gte=0) & Q(total_budget__gte=0),
                name="budget_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Budget {self.pk} ({self.currency} {self.total_budget})"

    @property
    def remaining(self) -> Decimal:
        return self.total_budget - self.spent_budget


class LedgerKind(models.TextChoices):
    PAID_IN = "paid_in", "Paid in"
    COMMITTED = "committed", "Committed to a platform"
    RELEASED = "released", "Commitment released"
    SPENT = "spent", "Spent (as the platform reports)"
    REFUNDED = "refunded", "Refunded"
    ADJUSTMENT = "adjustment", "Adjustment"


class BudgetLedgerEntry(models.Model):
    """One change of a budget's money; rows are never updated or deleted.

    Amounts are positive except SPENT corrections (a platform revising a day down) and
    ADJUSTMENT, which may go either way. COMMITTED/RELEASED move money between the free
    remainder and what a campaign may spend on its platform; SPENT rows carry the
    campaign and the reported day so a re-read replaces (by a correcting row) instead of
    adding twice.
    """

    budget = models.ForeignKey(AdCampaignBudget, on_delete=models.CASCADE, related_name="ledger")
    campaign = models.ForeignKey(
        "AutomatedCampaign", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    spend_date = models.DateField(null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "budget__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "budget__client"
    objects = TenantManager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["budget", "kind"], name="ledger_budget_kind_idx"),
            models.Index(fields=["campaign", "kind", "spend_date"], name="ledger_campaign_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=LedgerKind.values), name="ledger_known_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["spent", "adjustment"]) | Q(amount__gt=0),
                name="ledger_positive_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.currency} {self.amount}"


# --- campaigns ---


def _choices_of(name: str, values: type[StrEnum]) -> type[models.TextChoices]:
    """Database choices that mirror the connector contract's enum, so the two vocabularies
    cannot drift apart."""
    return models.TextChoices(
        name, [(m.name, (m.value, m.value.replace("_", " ").capitalize())) for m in values]
    )


CampaignType = _choices_of("CampaignType", contract.CampaignType)
Objective = _choices_of("Objective", contract.Objective)
BidStrategy = _choices_of("BidStrategy", contract.BidStrategy)
MetricsLevel = _choices_of("MetricsLevel", contract.MetricsLevel)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_REVIEW = "pending_review", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SKIPPED = "skipped", "Skipped"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


# Statuses in which a campaign exists on its platform and may spend or be resumed.
LIVE_STATUSES = (CampaignStatus.ACTIVE, CampaignStatus.PAUSED)


class AutomatedCampaign(models.Model):
    """One campaign of a suite: one platform, one kind, one event."""

    budget = models.ForeignKey(AdCampaignBudget, on_delete=models.PROTECT, related_name="campaigns")
    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    organizer = models.ForeignKey(
        MarketplaceOrganizer, on_delete=models.CASCADE, related_name="ad_campaigns"
    )
    event = models.ForeignKey(
        MarketplaceEvent, on_delete=models.CASCADE, related_name="ad_campaigns"
    )
    ad_account = models.ForeignKey(
        AdAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    platform = models.CharField(max_length=20, choices=AdPlatform.choices)
    campaign_type = models.CharField(max_length=30, choices=CampaignType.choices)
    name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.PENDING_REVIEW
    )
    status_reason = models.CharField(
        max_length=500, blank=True, help_text="Why it was skipped, rejected or failed."
    )
    objective = models.CharField(
        max_length=20, choices=Objective.choices, default=Objective.CONVERSIONS
    )
    targeting = models.JSONField(default=dict, blank=True)
    bid_strategy = models.CharField(
        max_length=20, choices=BidStrategy.choices, default=BidStrategy.LOWEST_COST
    )
    bid_amount = models.DecimalField(**MONEY, null=True, blank=True, validators=[positive])
    roas_floor = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[positive]
    )
    daily_budget = models.DecimalField(**MONEY, null=True, blank=True, validators=[not_negative])
    lifetime_budget = models.DecimalField(**MONEY, null=True, blank=True, validators=[not_negative])
    # What the allocator (or optimizer) wants per day; spend control decides what is set
    # on the platform (`daily_budget` / `lifetime_budget`) so that it never overspends.
    desired_daily_budget = models.DecimalField(**MONEY, default=ZERO, validators=[not_negative])
    # Bumped by every commitment or platform budget write, so a worker releases money
    # only if nobody raised the campaign's budget since it looked (compare-and-set).
    budget_version = models.PositiveIntegerField(default=0, editable=False)
    # The end time spend control last set on the platform when it rolls one forward day
    # by day (Google: spend_safety.rolled_end); empty: the platform has `ends_at`.
    platform_ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The highest daily budget in force on `day_high_on` (the ad account's date): a day's
    # over-delivery follows it, so a cut during that day does not lower that day's
    # exposure (spend_safety.daily_exposure).
    day_high_budget = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    day_high_on = models.DateField(null=True, blank=True, editable=False)
    # The highest daily budget of the day before `day_high_on`, kept when that date
    # moves: after midnight the platform may still report spend of yesterday's cap.
    previous_day_high_budget = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    # Platforms report spend hours late, so when spend control last changed the campaign
    # while it was live (`unreported_since`) it may have spent more than reported: up to
    # `unreported_ceiling` of reported spend in all. What is below the ceiling stays
    # reserved until the account's reports reach past that moment (spend_control).
    unreported_ceiling = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    unreported_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Of that ceiling, the part of the change's own day (the account's date of
    # `unreported_since`), as that day's reported spend: once the reports pass that
    # day's midnight, every earlier day is reported and only this part stays reserved.
    unreported_day_ceiling = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    # When spend control changed its budget on the platform in the last hour (ISO times):
    # Meta refuses a fifth change of an ad set's budget within an hour (error 17).
    budget_changes = models.JSONField(default=list, blank=True, editable=False)
    # Paused by spend control (or with its budget), so it resumes when money allows;
    # a campaign paused by staff or the organizer stays paused.
    auto_paused = models.BooleanField(default=False, editable=False)
    budget_allocated = models.DecimalField(**MONEY, default=ZERO)
    budget_spent = models.DecimalField(**MONEY, default=ZERO, editable=False)
    external_campaign_id = models.CharField(max_length=255, blank=True)
    external_adset_id = models.CharField(max_length=255, blank=True)
    external_budget_id = models.CharField(max_length=255, blank=True)
    performance_metrics = models.JSONField(default=dict, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["event_id", "platform", "campaign_type"]
        constraints = [
            # A suite is created once per budget, event, platform and kind.
            models.UniqueConstraint(
                fields=["budget", "event", "platform", "campaign_type"],
                name="uniq_campaign_per_suite_slot",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_known_status"
            ),
        ]
        indexes = [
            models.Index(fields=["budget", "status"], name="campaign_budget_status_idx"),
            models.Index(
                fields=["event", "platform", "status"], name="campaign_event_platform_idx"
            ),
            models.Index(fields=["status", "platform"], name="campaign_status_platform_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name without its trailing `[kind]` tag: the platforms' copy carries it for
        staff and the market simulator, while the organizer's pages show the kind in words."""
        return self.name.removesuffix(f" [{self.campaign_type}]")

    @property
    def reference(self) -> str:
        """Usher's stable id on the platforms, the key of idempotent publishing."""
        return f"usher-c-{self.pk}"


class CampaignCreative(models.Model):
    """One ad of a campaign; several variants make an A/B test."""

    campaign = models.ForeignKey(
        AutomatedCampaign, on_delete=models.CASCADE, related_name="creatives"
    )
    variant = models.CharField(max_length=10, default="A")
    headline = models.CharField(max_length=255)
    description = models.CharField(max_length=1000, blank=True)
    call_to_action = models.CharField(max_length=40, default="BUY_TICKETS")
    image_url = models.URLField(max_length=1000, blank=True)
    video_url = models.URLField(max_length=1000, blank=True)
    landing_url = models.URLField(max_length=2000)
    external_ad_id = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "campaign__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "campaign__client"
    objects = TenantManager()

    class Meta:
        ordering = ["campaign_id", "variant"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "variant"], name="uniq_creative_variant")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} variant {self.variant}"

    @property
    def reference(self) -> str:
        return f"usher-cr-{self.pk}"

    @property
    def content_key(self) -> str:
        """What the ad shows (copy, call to action, media) as a short key: a suite
        publishes the same variants to each of its campaigns, and the creative test
        pools an ad's clicks over the campaigns that show it. The variant's letter does
        not say that ("A" may be another ad in another campaign), nor does the landing
        URL (it carries each campaign's own tags)."""
        shown = (
            self.headline,
            self.description,
            self.call_to_action,
            self.image_url,
            self.video_url,
        )
        return hashlib.sha256("\x1f".join(shown).encode()).hexdigest()[:16]


# --- metrics, attribution, decisions ---


class CampaignMetrics(models.Model):
    """Platform-reported numbers of one object (campaign, ad group or ad) for one hour
    (or a whole day, hour NULL). Unique per slot, so re-reading a day replaces it."""

    campaign = models.ForeignKey(
        AutomatedCampaign, on_delete=models.CASCADE, related_name="metrics"
    )
    level = models.CharField(max_length=20, choices=MetricsLevel.choices)
    object_id = models.CharField(max_length=255, help_text="The platform's id at that level.")
    date = models.DateField()
    hour = models.PositiveSmallIntegerField(null=True, blank=True)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    spend = models.DecimalField(**MONEY, default=ZERO)
    conversions = models.DecimalField(max_digits=14, decimal_places=4, default=ZERO)
    conversion_value = models.DecimalField(**MONEY, default=ZERO)
    fetched_at = models.DateTimeField(auto_now=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "campaign__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "campaign__client"
    objects = TenantManager()

    class Meta:
        ordering = ["date", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "level", "object_id", "date", "hour"],
                condition=Q(hour__isnull=False),
                name="uniq_metrics_hour",
            ),
            models.UniqueConstraint(
                fields=["campaign", "level", "object_id", "date"],
                condition=Q(hour__isnull=True),
                name="uniq_metrics_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.level} {self.date} {self.hour}"


class CampaignAttribution(models.Model):
    """Usher's own attribution: the campaign an order came through (last click within
    the window), counted apart from what the platforms claim."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="attribution")
    campaign = models.ForeignKey(
        AutomatedCampaign, on_delete=models.CASCADE, related_name="attributions"
    )
    matched_by = models.CharField(max_length=20, help_text="gclid, fbc, ttclid, utm ...")
    clicked_at = models.DateTimeField(null=True, blank=True)
    value = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    tickets = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "campaign__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "campaign__client"
    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["campaign", "created_at"], name="attribution_campaign_idx")]

    def __str__(self) -> str:
        return f"order {self.order_id} -> campaign {self.campaign_id}"


class DecisionKind(models.TextChoices):
    BUDGET_CHANGE = "budget_change", "Budget changed"
    PAUSE = "pause", "Paused"
    RESUME = "resume", "Resumed"
    REALLOCATION = "reallocation", "Budget reallocated"
    CREATIVE_ROTATION = "creative_rotation", "Creative rotated"
    SPEND_CAP = "spend_cap", "Budget lowered to stay within the remainder"
    EXHAUSTION = "exhaustion", "Budget exhausted"
    APPROVAL = "approval", "Approved"
    REJECTION = "rejection", "Rejected"
    PUBLISH = "publish", "Published"
    PAYMENT = "payment", "Payment confirmed"
    STATUS = "status", "Status changed"
    OVERRIDE = "override", "Staff override"
    # The optimizer's advice to the organizer (never applied by Usher itself).
    RECOMMENDATION = "recommendation", "Recommendation"


class OptimizationLogEntry(models.Model):
    """Every decision about a budget or campaign, automatic or by staff, with its reason
    and numbers (the plan's `optimization_log`, as rows)."""

    client = models.ForeignKey(MarketplaceClient, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(
        AdCampaignBudget, on_delete=models.CASCADE, null=True, blank=True, related_name="log"
    )
    campaign = models.ForeignKey(
        AutomatedCampaign, on_delete=models.CASCADE, null=True, blank=True, related_name="log"
    )
    kind = models.CharField(max_length=30, choices=DecisionKind.choices)
    reason = models.CharField(max_length=1000)
    numbers = models.JSONField(default=dict, blank=True)
    expected_effect = models.CharField(max_length=500, blank=True)
    applied = models.BooleanField(default=True)
    overridden = models.BooleanField(default=False, help_text="A staff override prevailed.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=50, default="system")
    created_at = models.DateTimeField(auto_now_add=True)

    TENANT_ORGANIZER_PATH: ClassVar[str] = "budget__organizer"
    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "optimization log entries"
        indexes = [
            models.Index(fields=["campaign", "created_at"], name="optlog_campaign_idx"),
            models.Index(fields=["budget", "created_at"], name="optlog_budget_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason[:60]}"


class OverrideKind(models.TextChoices):
    PAUSE = "pause", "Keep paused"
    DAILY_BUDGET = "daily_budget", "Fixed daily budget"


class CampaignOverride(models.Model):
    """A staff decision that wins over the optimizer until it is lifted."""

    campaign = models.ForeignKey(
        AutomatedCampaign, on_delete=models.CASCADE, related_name="overrides"
    )
    kind = models.CharField(max_length=20, choices=OverrideKind.choices)
    daily_budget = models.DecimalField(**MONEY, null=True, blank=True, validators=[not_negative])
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    TENANT_ORGANIZER_PATH: ClassVar[str] = "campaign__organizer"
    TENANT_CLIENT_PATH: ClassVar[str] = "campaign__client"
    objects = TenantManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "kind"],
                condition=Q(lifted_at__isnull=True),
                name="uniq_active_override",
            ),
            models.CheckConstraint(
                condition=~Q(kind="daily_budget") | Q(daily_budget__isnull=False),
                name="override_budget_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on campaign {self.campaign_id}"
