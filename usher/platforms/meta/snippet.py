"""Meta Pixel for server-rendered pages (PLATFORMS.md 1.1).

The official base code is loaded once (its stub has an `if(f.fbq)return` guard), each
pixel is initialised once, and every event goes out with `trackSingle`: once two pixels
are initialised, plain `track` fires for all of them, so an organizer's pixel would
receive the marketplace's events and the other way round.

There is no `<noscript>` image: it would fire PageView before the visitor consents.
"""

from __future__ import annotations

from collections.abc import Sequence

from usher.platforms.meta.payloads import EVENT_NAMES
from usher.platforms.snippet_common import matching_fields, pixel_params
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    js_call,
    js_literal,
    loader_nonce_js,
)

LOADER = "meta"
LIBRARY_URL = "https://connect.facebook.net/en_US/fbevents.js"

# EVENT_NAMES (ours -> Meta's standard events, PLATFORMS.md 1.6) come from payloads.py:
# Meta deduplicates pixel and server copies on event name + event_id.

# Our advanced-matching keys -> the keys of `fbq('init', id, {...})`; the pixel
# normalizes and hashes them before sending.
USER_DATA_KEYS: dict[str, str] = {"email": "em", "phone": "ph", "external_id": "external_id"}
# Our `EventData` fields -> Meta's standard event parameters.
PARAM_KEYS: dict[str, str] = {
    "content_name": "content_name",
    "value": "value",
    "currency": "currency",
    "quantity": "num_items",
    "order_id": "order_id",
}


def _base_code(nonce: str | None) -> str:
    # Meta's base code, verbatim except that the injected library carries the nonce.
    return (
        "!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?"
        "n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;"
        "n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;"
        f"t.src=v;{loader_nonce_js('t', nonce)}s=b.getElementsByTagName(e)[0];"
        "s.parentNode.insertBefore(t,s)}(window,document,'script',"
        f"{js_literal(LIBRARY_URL)});"
    )


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """Base code, consent revoked before any init (Meta's GDPR guidance), one init per
    pixel. Automatic button/metadata collection is off: it would fire unaddressed
    events to every pixel on the page."""
    parts = [_base_code(ctx.nonce), js_call("fbq", "consent", "revoke")]
    for code in codes:
        parts.append(js_call("fbq", "set", "autoConfig", False, code.tag_id))
        matching = matching_fields(ctx.user_data, USER_DATA_KEYS) if code.advanced_matching else {}
        if matching:
            parts.append(js_call("fbq", "init", code.tag_id, matching))
        else:
            parts.append(js_call("fbq", "init", code.tag_id))
    return "".join(parts)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    name = EVENT_NAMES.get(event.name)
    if name is None:
        return ""
    return js_call(
        "fbq",
        "trackSingle",
        code.tag_id,
        name,
        pixel_params(code, event, PARAM_KEYS),
        {"eventID": event.event_id},
    )


def consent_js(codes: Sequence[ResolvedCode]) -> str:
    """Inside `Usher.consent`: `c` holds the visitor's Consent Mode choice."""
    return "fbq('consent',c.ad_storage==='granted'?'grant':'revoke');"


def body_html(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    return ""
