"""`attribute_conversion(order)`: Usher's own attribution of an order to the campaign
that brought it, counted apart from what the platforms claim (they over-count).

The rule is last click within a window (`ATTRIBUTION_CLICK_WINDOW_DAYS`, 7 days by
default): of the ad clicks the buyer made before the order, the latest one wins. An
ad click is a landing that carried a platform click id (fbc/fbclid, gclid, gbraid,
wbraid, ttclid) or a `utm_campaign`: the order's own checkout values (at the order's
time) and the visitor's earlier landings (`VisitorTouch`, by the order's visitor id).
It is Usher's when its `utm_campaign` is an Usher campaign reference (`usher-c-<id>`,
which Usher puts in every landing URL) of the order's organizer; when the latest click
is someone else's (another ad, or a campaign Usher does not run), the order is not
Usher's, as last click wants.

`matched_by` says what tied the click to the campaign: the platform's click id when the
click carried the campaign's own platform's id, else `utm`. Refunded or cancelled
orders lose their attribution. Running it twice changes nothing (one row per order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction

from usher.campaigns.models import AutomatedCampaign, CampaignAttribution
from usher.campaigns.suite import CAMPAIGN_ID_PARAM
from usher.events.models import VisitorTouch
from usher.marketplace.models import Order, OrderStatus

# Which platform each click id comes from.
CLICK_ID_PLATFORMS = {
    "fbc": "meta",
    "gclid": "google_ads",
    "gbraid": "google_ads",
    "wbraid": "google_ads",
    "ttclid": "tiktok",
}
MAX_ID_DIGITS = 18
REFERENCE = re.compile(rf"^usher-c-([0-9]{{1,{MAX_ID_DIGITS}}})$")


@dataclass(frozen=True)
class Click:
    """One landing's click ids and tags, and when it happened; `landing_url` when known
    (visitor touches keep it), for the campaign id Usher adds beside the UTM tags."""

    at: datetime
    values: Mapping[str, str]
    landing_url: str = ""

    @property
    def is_ad_click(self) -> bool:
        return bool(self.values.get("utm_campaign")) or any(
            self.values.get(name) for name in CLICK_ID_PLATFORMS
        )

    @property
    def campaign_id(self) -> int | None:
        """Usher's campaign: `utm_campaign=usher-c-<id>`, else the landing URL's own
        `usher_campaign=<id>` (kept when a tag manager rewrote the UTM tags)."""
        found = REFERENCE.match((self.values.get("utm_campaign") or "").strip())
        if found:
            return int(found.group(1))
        ids = parse_qs(urlsplit(self.landing_url).query).get(CAMPAIGN_ID_PARAM, [])
        return int(ids[0]) if ids and ids[0].isdigit() and len(ids[0]) <= MAX_ID_DIGITS else None

    def matched_by(self, platform: str) -> str:
        return next(
            (
                name
                for name, owner in CLICK_ID_PLATFORMS.items()
                if owner == platform and self.values.get(name)
            ),
            "utm",
        )


def last_click(clicks: Iterable[Click], placed_at: datetime, window: timedelta) -> Click | None:
    """The latest ad click in [placed_at - window, placed_at] (pure: no database)."""
    eligible = [
        click
        for click in clicks
        if click.is_ad_click and placed_at - window <= click.at <= placed_at
    ]
    return max(eligible, key=lambda click: click.at, default=None)


def click_window() -> timedelta:
    return timedelta(days=settings.ATTRIBUTION_CLICK_WINDOW_DAYS)


def clicks_of(order: Order, window: timedelta) -> list[Click]:
    clicks = [Click(order.placed_at, order.ad_click_values())]
    if order.visitor_id:
        touches = VisitorTouch.objects.filter(
            client_id=order.client_id,
            visitor_id=order.visitor_id,
            touched_at__range=(order.placed_at - window, order.placed_at),
        )
        clicks += [
            Click(touch.touched_at, touch.ad_click_values(), touch.landing_url) for touch in touches
        ]
    return clicks


def attribute_conversion(order: Order) -> CampaignAttribution | None:
    """Attribute `order` to the Usher campaign of its last ad click, or to none."""
    window = click_window()
    click = last_click(clicks_of(order, window), order.placed_at, window)
    campaign = None
    if order.status == OrderStatus.PAID and click is not None and click.campaign_id:
        campaign = AutomatedCampaign.objects.filter(
            pk=click.campaign_id, client_id=order.client_id, organizer_id=order.organizer_id
        ).first()
    with transaction.atomic():
        if campaign is None or click is None:
            CampaignAttribution.objects.filter(order=order).delete()
            return None
        attribution, _ = CampaignAttribution.objects.update_or_create(
            order=order,
            defaults={
                "campaign": campaign,
                "matched_by": click.matched_by(campaign.platform),
                "clicked_at": click.at,
                "value": order.value,
                "currency": order.currency,
                "tickets": order.tickets_count,
            },
        )
    return attribution
