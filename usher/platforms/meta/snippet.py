"""Meta Pixel for server-rendered pages (docs/platforms.md, Page snippets: Meta Pixel).

The official base code is loaded once (its stub has an `if(f.fbq)return` guard), each
pixel is initialised once, and every event goes out with `trackSingle`: once two pixels
are initialised, plain `track` fires for all of them, so an organizer's pixel would
receive the marketplace's events and the other way round.

The base code is split by consent: its `fbq` stub and `consent revoke` run at once,
fbevents.js is injected and the pixels initialised only when `Usher.consent` grants
`ad_storage`. There is no `<noscript>` image: it would fire PageView before the visitor
consents.
"""

from __future__ import annotations

from collections.abc import Sequence

from usher.platforms.meta.payloads import EVENT_NAMES
from usher.platforms.snippet_common import matching_fields, pixel_params
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    if_user_data_granted,
    inject_script_js,
    js_call,
    js_literal,
)

LOADER = "meta"
CONSENT_ANY_OF: tuple[str, ...] = ("ad_storage",)
LIBRARY_URL = "https://connect.facebook.net/en_US/fbevents.js"

# EVENT_NAMES (ours -> Meta's standard events, docs/platforms.md, Page snippets: event names)
# come from payloads.py:
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


def _stub_js() -> str:
    """Meta's base-code stub: `fbq` queues calls until fbevents.js replays them.

    The base code's other half, injecting fbevents.js, is `load_js`: it runs on grant.
    """
    return (
        "!function(f){if(f.fbq)return;var n=f.fbq=function(){n.callMethod?"
        "n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;"
        "n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];}(window);"
    )


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """The stub and consent revoked before any init, on every page (Meta's GDPR guidance)."""
    return _stub_js() + js_call("fbq", "consent", "revoke")


def load_js(ctx: SnippetContext) -> str:
    """fbevents.js, as the base code injects it, with the nonce."""
    return inject_script_js(js_literal(LIBRARY_URL), ctx.nonce)


def init_js(code: ResolvedCode, ctx: SnippetContext) -> str:
    """One init per pixel. Automatic button/metadata collection is off: it would fire
    unaddressed events to every pixel on the page. Advanced matching goes in `init`, so
    it is there only if the visitor also granted `ad_user_data` by then."""
    parts = [js_call("fbq", "set", "autoConfig", False, code.tag_id)]
    plain = js_call("fbq", "init", code.tag_id)
    matching = matching_fields(ctx.user_data, USER_DATA_KEYS) if code.advanced_matching else {}
    if matching:
        parts.append(if_user_data_granted(js_call("fbq", "init", code.tag_id, matching), plain))
    else:
        parts.append(plain)
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
