"""Sample marketplace pages carrying the tracking codes, for people and for the browser
tests: what a real marketplace page has to do. An event page (`/demo/events/<slug>/`) and
an organizer's profile page (`/demo/organizers/<external id>/`, its default codes plus
the marketplace's, page_view only), sharing one frame (`tracking/demo_base.html`).

It loads tracker.js with a per-request CSP nonce and answers with a strict
Content-Security-Policy (`'nonce-…' 'strict-dynamic'`), so a demo that works proves the
pixels work under such a policy too. `?client=<client slug>` picks the marketplace when
several have an event with this slug (an organizer with this external id).

Event page variants: `?page=checkout`, `?page=thank_you&order=<order id>`; `?mode=server`
renders the same codes with the server-side snippets (`usher.tracking.snippets`), and
loads tracker.js without pixels only to send the rendered events, under the same ids, to
the collector after consent; `?signed_in=1` plays a signed-in buyer, whose (made-up) email and phone go
to the codes with advanced matching once the visitor grants `ad_user_data`.

Served only with DEBUG on or `USHER_DEMO_PAGES = True` in settings: on a production
database the page would feed real organizers' pixels (and, through the collector, their
server-side conversions) with made-up visits and purchases.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer, Order
from usher.tracking.resolver import resolve_for_event, resolve_for_organizer
from usher.tracking.snippets import (
    PageContext,
    PageType,
    page_events,
    render_snippets,
    tracker_page_events,
)

# The demo has no ticket catalog: every ticket costs this, in the event's currency.
DEMO_TICKET_PRICE = Decimal("120.00")
NONCE_BYTES = 18
ORDER_ID_MAX_CHARS = 100
ORGANIZER_EVENTS_SHOWN = 20
PAGE_TYPES = (PageType.EVENT, PageType.CHECKOUT, PageType.THANK_YOU)
# The signed-in buyer of `?signed_in=1`: a marketplace page knows its buyer only then.
# example.com, so that no real person can be matched.
DEMO_VISITOR: dict[str, str] = {
    "email": "buyer@example.com",
    "phone": "+40700000000",
    "external_id": "demo-buyer-1",
}


def content_security_policy(nonce: str) -> str:
    """A strict CSP: only scripts carrying the nonce, and what they load ('strict-dynamic').

    `https:` and `'unsafe-inline'` are ignored by browsers that understand nonces and
    'strict-dynamic'; they only keep very old browsers working (Google's strict-CSP advice).
    """
    return (
        f"script-src 'nonce-{nonce}' 'strict-dynamic' https: 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'"
    )


def demo_pages_enabled() -> bool:
    return settings.USHER_DEMO_PAGES


def _require_demo_pages() -> None:
    if not demo_pages_enabled():
        raise Http404("Demo pages are off (DEBUG or USHER_DEMO_PAGES).")


def _demo_url(name: str, key: str, client_slug: str) -> str:
    """Another demo page of the same marketplace; "" when `key` cannot be part of a URL."""
    try:
        path = reverse(f"tracking_demo:{name}", args=[key])
    except NoReverseMatch:
        return ""
    return f"{path}?{urlencode({'client': client_slug})}"


def _link_prefix(request: HttpRequest, *kept_params: str) -> str:
    """The start of links between a page's variants, keeping these query parameters."""
    kept = {key: request.GET[key] for key in kept_params if request.GET.get(key)}
    return f"?{urlencode(kept)}&" if kept else "?"


def _render_demo(
    request: HttpRequest, template: str, context: dict[str, Any], nonce: str
) -> HttpResponse:
    response = render(request, template, context)
    response["Content-Security-Policy"] = content_security_policy(nonce)
    # Each response carries its own nonce: a cached copy would carry a stale one.
    response["Cache-Control"] = "no-store"
    return response


def _first_of_client(request: HttpRequest, rows: QuerySet, what: str) -> Any:
    """The demo row by its public name, in `?client=<slug>` when several marketplaces
    share the name."""
    client_slug = request.GET.get("client")
    if client_slug:
        rows = rows.filter(client__slug=client_slug)
    row = rows.order_by("id").first()
    if row is None:
        raise Http404(f"No such {what}.")
    return row


def _event_for(request: HttpRequest, slug: str) -> MarketplaceEvent:
    events = MarketplaceEvent.objects.select_related("client", "organizer").filter(slug=slug)
    return _first_of_client(request, events, "event")


def _order_for(event: MarketplaceEvent, order_id: str) -> dict[str, Any]:
    """The order shown on the thank-you page: the real one when the core sent it, else a
    demo order of one ticket (so any `?order=` works in the demo)."""
    order = Order.objects.filter(client_id=event.client_id, external_id=order_id).first()
    if order is not None:
        return {
            "id": order.external_id,
            "value": float(order.value),
            "currency": order.currency,
            "quantity": order.tickets_count,
        }
    return {
        "id": order_id,
        "value": float(DEMO_TICKET_PRICE),
        "currency": event.currency,
        "quantity": 1,
    }


def demo_event(request: HttpRequest, slug: str) -> HttpResponse:
    _require_demo_pages()
    event = _event_for(request, slug)
    requested = request.GET.get("page", PageType.EVENT)
    page_type = PageType(requested) if requested in PAGE_TYPES else PageType.EVENT
    server_mode = request.GET.get("mode") == "server"
    visitor = DEMO_VISITOR if request.GET.get("signed_in") == "1" else {}
    nonce = secrets.token_urlsafe(NONCE_BYTES)

    order = None
    if page_type == PageType.THANK_YOU:
        order_id = request.GET.get("order", "")[:ORDER_ID_MAX_CHARS]
        order = _order_for(event, order_id or f"demo-{secrets.token_hex(4)}")

    codes = resolve_for_event(event)
    options: dict[str, Any] = {
        "client": event.client.site_key,
        "event": event.slug,
        "pageType": str(page_type),
        "nonce": nonce,
        "value": float(DEMO_TICKET_PRICE),
        "quantity": 1,
    }
    if order is not None:
        options["order"] = order
    if visitor:
        options["user"] = visitor

    snippets = {"head": "", "body": ""}
    if server_mode:
        page = PageContext(
            page_type=page_type,
            content_id=event_content_id(event),
            event_name=event.name,
            currency=order["currency"] if order else event.currency,
            value=Decimal(str(order["value"])) if order else DEMO_TICKET_PRICE,
            quantity=order["quantity"] if order else 1,
            order_id=order["id"] if order else "",
            user_data=visitor,
        )
        events = page_events(page)
        snippets = render_snippets(codes, nonce=nonce, page=page, events=events)
        # tracker.js loads no pixel here but posts the rendered events, under the ids
        # the pixels got, to the collector once the visitor chose: as tracker.js mode.
        options["pixels"] = False
        options["pageEvents"] = tracker_page_events(events)

    context = {
        # Links between the variants keep the marketplace and the rendering mode.
        "link_prefix": _link_prefix(request, "client", "mode", "signed_in"),
        "client": event.client,
        "event": event,
        "organizer_url": _demo_url("organizer", event.organizer.external_id, event.client.slug),
        "page_type": str(page_type),
        "nonce": nonce,
        "options": options,
        "order": order,
        "price": DEMO_TICKET_PRICE,
        "codes": codes,
        "server_mode": server_mode,
        "snippets": snippets,
    }
    return _render_demo(request, "tracking/demo_event.html", context, nonce)


def _organizer_for(request: HttpRequest, external_id: str) -> MarketplaceOrganizer:
    organizers = MarketplaceOrganizer.objects.select_related("client")
    return _first_of_client(request, organizers.filter(external_id=external_id), "organizer")


def demo_organizer(request: HttpRequest, external_id: str) -> HttpResponse:
    """An organizer's profile page: tracker.js with `organizer` (page_view only)."""
    _require_demo_pages()
    organizer = _organizer_for(request, external_id)
    client = organizer.client
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    events = organizer.events.order_by("starts_at", "id")[:ORGANIZER_EVENTS_SHOWN]
    context = {
        "link_prefix": _link_prefix(request, "client"),
        "client": client,
        "organizer": organizer,
        "events": [
            {"event": event, "url": _demo_url("event", event.slug, client.slug)} for event in events
        ],
        "nonce": nonce,
        "options": {
            "client": client.site_key,
            "organizer": organizer.external_id,
            "pageType": "organizer",
            "nonce": nonce,
        },
        "codes": resolve_for_organizer(organizer),
        "server_mode": False,
        "snippets": {"head": "", "body": ""},
    }
    return _render_demo(request, "tracking/demo_organizer.html", context, nonce)
