"""GA4 through the Google tag (gtag.js) for server-rendered pages.

What the tag expects: docs/platforms.md, Page snippets: Google tag and consent.

gtag.js is loaded once per page and shared with Google Ads (`LOADER = "gtag"`). Consent
Mode v2 defaults (denied) are queued at once, before `js` and any `config`; gtag.js is
loaded, and a code configured, only when `Usher.consent` grants the code's purpose
(`analytics_storage` for GA4), and the update is passed on. Each code is configured in its own group and every event
is sent to that group only: an event without `send_to` would reach every configured
id, the organizer's and the marketplace's alike. `config` sends no automatic page_view,
so page_view too reaches only the codes that asked for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from usher.platforms.ga4.payloads import EVENT_NAMES
from usher.platforms.snippet_common import matching_fields
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    consent_defaults,
    if_user_data_granted,
    inject_script_js,
    js_call,
    js_literal,
    merged_params,
)

LOADER = "gtag"
CONSENT_ANY_OF: tuple[str, ...] = ("analytics_storage",)
LIBRARY_URL = "https://www.googletagmanager.com/gtag/js"

# EVENT_NAMES (ours -> GA4's recommended events, docs/platforms.md, Page snippets: event
# names) come from payloads.py,
# so the tag and the Measurement Protocol report the same names.

# Our advanced-matching keys -> gtag `user_data` keys (Google hashes them).
USER_DATA_KEYS: dict[str, str] = {"email": "email", "phone": "phone_number"}


def group_name(code: ResolvedCode) -> str:
    """The gtag group routing events to this code alone; stable for a code."""
    return f"usher_{code.provider}_{code.source}_{code.code_id}"


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """The page's one Google tag queue: stub and Consent Mode v2 defaults (all denied)
    before `js` and any `config`. Only dataLayer entries: nothing is loaded or sent."""
    return "".join(
        [
            "window.dataLayer=window.dataLayer||[];",
            "if(typeof window.gtag!=='function')"
            "{window.gtag=function(){dataLayer.push(arguments);};}",
            js_call("gtag", "consent", "default", consent_defaults()),
            # Redact ad click ids while ad_storage is denied (Consent Mode).
            js_call("gtag", "set", "ads_data_redaction", True),
            "gtag('js',new Date());",
        ]
    )


def load_js(ctx: SnippetContext) -> str:
    """gtag.js, as Google's snippet loads it: any configured id loads the same library,
    so the first code the visitor's consent allows names it."""
    return inject_script_js(f"{js_literal(LIBRARY_URL)}+'?id='+encodeURIComponent(id)", ctx.nonce)


def init_js(code: ResolvedCode, ctx: SnippetContext) -> str:
    """The code's `config`, in its own group and without the automatic page_view.
    Enhanced-conversion `user_data` rides on it only with `ad_user_data` granted."""
    options: dict[str, Any] = {"groups": group_name(code), "send_page_view": False}
    user_data = matching_fields(ctx.user_data, USER_DATA_KEYS) if code.advanced_matching else {}
    plain = js_call("gtag", "config", code.tag_id, options)
    if not user_data:
        return plain
    with_data = js_call("gtag", "config", code.tag_id, {**options, "user_data": user_data})
    return if_user_data_granted(with_data, plain)


def event_params(code: ResolvedCode, event: EventData) -> dict[str, Any]:
    items = [
        {
            "item_id": content_id,
            "item_name": event.content_name or None,
            "quantity": event.quantity,
        }
        for content_id in event.content_ids
    ]
    standard: dict[str, Any] = {
        "currency": event.currency,
        "value": event.value,
        "transaction_id": event.order_id,
        "items": [{k: v for k, v in item.items() if v is not None} for item in items] or None,
        "event_id": event.event_id,
        "send_to": group_name(code),
    }
    return merged_params(code, standard)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    name = EVENT_NAMES.get(event.name)
    if name is None:
        return ""
    return js_call("gtag", "event", name, event_params(code, event))


def consent_js(codes: Sequence[ResolvedCode]) -> str:
    """Inside `Usher.consent`: `c` holds exactly the four Consent Mode purposes."""
    return "gtag('consent','update',c);"
