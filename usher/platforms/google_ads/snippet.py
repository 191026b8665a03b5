"""Google Ads conversion tracking for server-rendered pages.

What the tag expects: docs/platforms.md, Page snippets: Google tag and event names.

Google Ads rides on the page's one Google tag, set up by the GA4 module (same
`LOADER`), so setup, loading, `config` and consent are GA4's; only the purpose that
allows it differs. Events differ: Ads has no standard events, only conversions, each
addressed as `AW-<id>/<label>`; an event fires for a code only when the organizer
configured a label for it. page_view, when wanted, is a
plain event to the code's group (the remarketing hit that `config` would otherwise send).

Dynamic remarketing: every event about an event page carries the content ids as
`items` of Google's "custom" vertical (`{id, google_business_vertical: "custom"}`), the
ids of the catalog's dynamic custom assets (usher/platforms/google_ads/catalog.py); an
event without a conversion label still goes to the code's group under its own name
(view_item, add_to_cart...), which is what builds the "viewed this event" lists.
"""

from __future__ import annotations

from typing import Any

from usher.platforms.ga4.snippet import (
    LOADER,
    consent_js,
    group_name,
    init_js,
    load_js,
    setup_js,
)
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import EventData, SnippetContext, js_call, merged_params

__all__ = ["CONSENT_ANY_OF", "LOADER", "consent_js", "event_js", "init_js", "load_js", "setup_js"]

# Conversions and remarketing are advertising: unlike GA4, Ads needs ad_storage.
CONSENT_ANY_OF: tuple[str, ...] = ("ad_storage",)


# The dynamic remarketing vertical whose item ids are the catalog's custom assets.
BUSINESS_VERTICAL = "custom"


def dynamic_items(event: EventData) -> list[dict[str, str]]:
    return [
        {"id": content_id, "google_business_vertical": BUSINESS_VERTICAL}
        for content_id in event.content_ids
    ]


def conversion_params(code: ResolvedCode, event: EventData, label: str) -> dict[str, Any]:
    standard: dict[str, Any] = {
        "send_to": f"{code.tag_id}/{label}",
        "value": event.value,
        "currency": event.currency,
        # Google dedupes a conversion per action by transaction id (page reloads).
        "transaction_id": event.order_id or event.event_id,
        "items": dynamic_items(event) or None,
    }
    return merged_params(code, standard)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    label = code.conversion_labels.get(event.name)
    if label:
        return js_call("gtag", "event", "conversion", conversion_params(code, event, label))
    if event.name == "page_view":
        return js_call("gtag", "event", "page_view", {"send_to": group_name(code)})
    if event.content_ids:
        remarketing = {
            "send_to": group_name(code),
            "value": event.value,
            "items": dynamic_items(event),
        }
        return js_call("gtag", "event", event.name, merged_params(code, remarketing))
    return ""
