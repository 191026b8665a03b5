"""Which ad account a campaign runs on, the marketplace's campaign settings, and the
account as the connectors see it (a contract dataclass with the decrypted credential)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.utils import timezone

from usher.campaigns.models import (
    AdAccount,
    AdAccountStatus,
    AdPlatform,
    CampaignSettings,
    CredentialKind,
)
from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer
from usher.platforms import campaigns_base as contract
from usher.platforms.base import PlatformError

logger = logging.getLogger("usher.campaigns")

# Marketplace defaults when a client has no CampaignSettings row.
DEFAULT_TARGET_ROAS = Decimal("3.00")
DEFAULT_MAX_ACTIVE_CAMPAIGNS_PER_ORGANIZER = 24


def campaign_settings(client: MarketplaceClient) -> CampaignSettings:
    """The client's settings row, or unsaved defaults."""
    found = CampaignSettings.objects.filter(client=client).first()
    return found or CampaignSettings(
        client=client,
        default_target_roas=DEFAULT_TARGET_ROAS,
        max_active_campaigns_per_organizer=DEFAULT_MAX_ACTIVE_CAMPAIGNS_PER_ORGANIZER,
    )


def allowed_platforms(client: MarketplaceClient) -> list[str]:
    return list(campaign_settings(client).allowed_platforms or AdPlatform.values)


def ad_account_for(organizer: MarketplaceOrganizer, platform: str) -> AdAccount | None:
    """The account campaigns run on: the organizer's own when connected (with a
    credential), else the marketplace's (plan flow, step 5)."""
    accounts = AdAccount.objects.filter(
        client_id=organizer.client_id, platform=platform, status=AdAccountStatus.ACTIVE
    ).exclude(credential_encrypted="")
    own = accounts.filter(organizer=organizer).order_by("id").first()
    return own or accounts.filter(organizer__isnull=True).order_by("id").first()


def contract_account(account: AdAccount) -> contract.AdAccount:
    """The account for a connector call; the credential is decrypted only here."""
    settings = dict(account.settings)
    if account.manager_id:
        settings["login_customer_id"] = account.manager_id
    token = ""
    if account.credential_kind == CredentialKind.REFRESH_TOKEN:
        settings["refresh_token"] = account.get_credential() or ""
    else:
        token = account.get_credential() or ""
    return contract.AdAccount(
        platform=account.platform,
        account_id=account.account_id,
        access_token=token,
        currency=account.currency,
        timezone=account.timezone,
        settings=settings,
    )


def record_health(account: AdAccount, error: PlatformError | None = None) -> None:
    """Remember the account's last successful call or last error (shown to staff)."""
    now = timezone.now()
    if error is None:
        AdAccount.objects.filter(pk=account.pk).update(last_success_at=now)
        return
    message = str(error)[:2000]
    AdAccount.objects.filter(pk=account.pk).update(last_error=message, last_error_at=now)
    logger.warning("ad account %s: %s", account.pk, message)
