"""Consent policy: whether a conversion may go server-side, and in which form.

Opt-in by default (GDPR): with the visitor's marketing consent the full event goes out;
without it, nothing does — unless the marketplace client chose legitimate interest,
which sends a minimal form without personal data. The browser pixels have their own
gate in tracker.js; this one covers the server-side copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from usher.marketplace.models import ConsentPolicy, MarketplaceClient


@dataclass(frozen=True)
class SendDecision:
    send: bool
    minimal: bool = False


NOT_SENT = SendDecision(send=False)


def ad_user_data_choice(consent: Mapping[str, object]) -> object:
    """The visitor's choice on sending their data for ads (None when unknown): Consent
    Mode v2's `ad_user_data`; older banners only report `ad_storage`, which then stands
    for it."""
    return consent.get("ad_user_data", consent.get("ad_storage"))


def has_marketing_consent(consent: Mapping[str, object]) -> bool:
    return ad_user_data_choice(consent) is True


def decide(client: MarketplaceClient, consent: Mapping[str, object]) -> SendDecision:
    if has_marketing_consent(consent):
        return SendDecision(send=True)
    if client.consent_policy == ConsentPolicy.LEGITIMATE_INTEREST:
        return SendDecision(send=True, minimal=True)
    return NOT_SENT
