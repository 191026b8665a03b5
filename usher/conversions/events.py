"""Turn stored deliveries into the connector contract's plain dataclasses.

Order purchases take the buyer's data hashed at ingest for this platform, and borrow
the checkout browser event's network data (IP, user agent, _fbp/_ttp) when it exists:
same event id, one conversion. Minimal-form deliveries (no marketing consent, under
legitimate interest) carry no personal data: no hashed identifiers, no IP, no cookies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from usher.conversions.buyers import buyer_browser_events
from usher.conversions.models import ConversionDelivery
from usher.conversions.policy import ad_user_data_choice
from usher.events.models import TrackingEvent
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import OrderLine
from usher.platforms.base import ContentLine, ConversionEvent, Destination
from usher.tracking.models import TrackingCodeBase
from usher.tracking.providers import get_spec

# The platforms take events up to 7 days old; older browser data cannot help an order.
BROWSER_EVENT_LOOKBACK_DAYS = 7


class DestinationUnavailable(Exception):
    """The destination's code was deleted, disabled or lost its credential."""


def destination_for(delivery: ConversionDelivery) -> Destination:
    code: TrackingCodeBase | None = delivery.organizer_code or delivery.marketplace_code
    if code is None or not code.enabled:
        raise DestinationUnavailable("the tracking code was removed or disabled")
    spec = get_spec(code.provider)
    credential = code.get_secret(spec.secret) if spec.secret else None
    if not credential:
        raise DestinationUnavailable("the tracking code has no server-side credential")
    code_settings: dict[str, Any] = dict(code.settings or {})
    code_settings.update(settings.PLATFORM_DESTINATION_SETTINGS.get(code.provider, {}))
    account_id = code_settings.get("customer_id") or code.tag_id
    return Destination(
        platform=code.provider,
        account_id=account_id,
        access_token=credential,
        test_event_code=code_settings.get("test_event_code") or None,
        settings=code_settings,
    )


def conversion_events(
    deliveries: Sequence[ConversionDelivery], *, limited_data_use: bool
) -> list[ConversionEvent]:
    """One ConversionEvent per delivery, in the same order (all share one destination)."""
    since = timezone.now() - timedelta(days=BROWSER_EVENT_LOOKBACK_DAYS)
    browser = buyer_browser_events([d.order for d in deliveries if d.order_id], since=since)
    lines = _order_lines([d.order_id for d in deliveries if d.order_id])
    built = []
    for delivery in deliveries:
        if delivery.order_id is not None:
            event = _from_order(
                delivery, browser.get(delivery.order_id), lines.get(delivery.order_id, [])
            )
        else:
            event = _from_tracking_event(delivery, delivery.tracking_event)
        event.limited_data_use = limited_data_use
        if delivery.minimal_data:
            _strip_personal_data(event)
        built.append(event)
    return built


def _consent_flags(consent: dict) -> dict[str, object]:
    return {
        "ad_user_data": ad_user_data_choice(consent),
        "ad_personalization": consent.get("ad_personalization"),
    }


def _visitor_ids(visitor_id: str, ga_client_id: str) -> dict[str, str]:
    """First-party ids: ours as external_id, and GA's client id for the GA4 connector."""
    ids = {"external_id": visitor_id} if visitor_id else {}
    if ga_client_id:
        ids["ga_client_id"] = ga_client_id
    return ids


def _from_tracking_event(delivery: ConversionDelivery, event: TrackingEvent) -> ConversionEvent:
    return ConversionEvent(
        event_id=event.event_id,
        event_name=event.name,
        event_time=event.occurred_at,
        event_source_url=event.page_url or None,
        value=event.value,
        currency=event.currency or None,
        content_ids=list(event.content_ids or []),
        num_items=event.num_items,
        order_id=event.order_external_id or None,
        user_data=_visitor_ids(event.visitor_id, event.ga_client_id),
        client_ip=event.ip_address,
        user_agent=event.user_agent or None,
        fbc=event.fbc or None,
        fbp=event.fbp or None,
        gclid=event.gclid or None,
        gbraid=event.gbraid or None,
        wbraid=event.wbraid or None,
        ttclid=event.ttclid or None,
        ttp=event.ttp or None,
        **_consent_flags(event.consent),
    )


def _order_lines(order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    """The ticket lines of these orders, in their order (one query for a whole batch)."""
    by_order: dict[int, list[OrderLine]] = {}
    for line in OrderLine.objects.filter(order_id__in=set(order_ids)).order_by("position"):
        by_order.setdefault(line.order_id, []).append(line)
    return by_order


def _from_order(
    delivery: ConversionDelivery, browser: TrackingEvent | None, lines: Sequence[OrderLine]
) -> ConversionEvent:
    order = delivery.order
    content_id = event_content_id(order.event)
    user_data = {
        **_visitor_ids(order.visitor_id, browser.ga_client_id if browser else ""),
        **order.hashed_user_data.get("conversions", {}).get(delivery.provider, {}),
    }
    consent = order.consent or (browser.consent if browser else {})
    return ConversionEvent(
        event_id=delivery.event_id,
        event_name=delivery.event_name,
        event_time=order.placed_at,
        event_source_url=(browser.page_url if browser else "") or order.event.public_url or None,
        value=order.value,
        currency=order.currency,
        content_ids=[content_id],
        contents=[
            ContentLine(
                content_id=content_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                name=line.name,
                variant=line.ticket_type_id,
            )
            for line in lines
        ],
        num_items=order.tickets_count,
        order_id=order.external_id,
        user_data=user_data,
        client_ip=order.client_ip or (browser.ip_address if browser else None),
        user_agent=order.user_agent or (browser.user_agent if browser else "") or None,
        fbc=order.fbc or (browser.fbc if browser else "") or None,
        fbp=order.fbp or (browser.fbp if browser else "") or None,
        gclid=order.gclid or None,
        gbraid=order.gbraid or None,
        wbraid=order.wbraid or None,
        ttclid=order.ttclid or None,
        ttp=order.ttp or (browser.ttp if browser else "") or None,
        **_consent_flags(consent),
    )


def _strip_personal_data(event: ConversionEvent) -> None:
    """The minimal form: the conversion itself (name, time, value, order id) and the
    browser's user agent, nothing that identifies a person or a click."""
    event.user_data = {}
    event.client_ip = None
    event.fbp = event.ttp = event.fbc = None
    event.gclid = event.gbraid = event.wbraid = event.ttclid = None
    if event.event_source_url:  # a landing URL's query carries click ids and UTM tags
        event.event_source_url = event.event_source_url.split("?", 1)[0].split("#", 1)[0]
    event.ad_user_data = False
    event.ad_personalization = False
