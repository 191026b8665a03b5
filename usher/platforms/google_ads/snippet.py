"""Google Ads conversion tracking for server-rendered pages (PLATFORMS.md 1.2, 1.6).

Google Ads rides on the page's one Google tag, set up by the GA4 module (same
`LOADER`), so setup, consent and body are GA4's. Events differ: Ads has no standard
events, only conversions, each addressed as `AW-<id>/<label>`; an event fires for a
code only when the organizer configured a label for it. page_view, when wanted, is a
plain event to the code's group (the remarketing hit that `config` would otherwise send).
"""

from __future__ import annotations

from typing import Any

from usher.platforms.ga4.snippet import LOADER, body_html, consent_js, group_name, setup_js
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import EventData, SnippetContext, js_call, merged_params

__all__ = ["LOADER", "body_html", "consent_js", "event_js", "setup_js"]


def conversion_params(code: ResolvedCode, event: EventData, label: str) -> dict[str, Any]:
    standard: dict[str, Any] = {
        "send_to": f"{code.tag_id}/{label}",
        "value": event.value,
        "currency": event.currency,
        # Google dedupes a conversion per action by transaction id (page reloads).
        "transaction_id": event.order_id or event.event_id,
    }
    return merged_params(code, standard)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    label = code.conversion_labels.get(event.name)
    if label:
        return js_call("gtag", "event", "conversion", conversion_params(code, event, label))
    if event.name == "page_view":
        return js_call("gtag", "event", "page_view", {"send_to": group_name(code)})
    return ""
