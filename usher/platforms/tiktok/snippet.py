"""TikTok Pixel for server-rendered pages.

What the pixel expects: docs/platforms.md, Page snippets: TikTok Pixel, and TikTok:
deduplication.

The base code's stub is defined once and consent held at once; each pixel is loaded
(events.js requested) only when `Usher.consent` grants `ad_storage`, and every call goes
through `ttq.instance(id)`: calls on the global `ttq` reach every loaded pixel. Events
carry `event_id`, the dedup key with the Events API.
"""

from __future__ import annotations

from collections.abc import Sequence

from usher.platforms.snippet_common import matching_fields, pixel_params
from usher.platforms.tiktok.payloads import EVENT_NAMES
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    if_user_data_granted,
    js_literal,
    loader_nonce_js,
)

LOADER = "tiktok"
CONSENT_ANY_OF: tuple[str, ...] = ("ad_storage",)

# EVENT_NAMES (ours -> TikTok's standard events, docs/platforms.md, Page snippets: event
# names) come from payloads.py:
# TikTok deduplicates pixel and API copies on event name + event_id. page_view is
# `ttq.page()`.

# Our advanced-matching keys -> `identify` keys (the pixel hashes plain values).
USER_DATA_KEYS: dict[str, str] = {
    "email": "email",
    "phone": "phone_number",
    "external_id": "external_id",
}
# Our `EventData` fields -> TikTok's standard event parameters.
PARAM_KEYS: dict[str, str] = {
    "content_name": "description",
    "quantity": "quantity",
    "value": "value",
    "currency": "currency",
    "order_id": "order_id",
}


def _stub_js() -> str:
    """TikTok's base-code stub: `ttq` and each `ttq.instance(id)` queue calls until
    events.js replays them. The base code's `ttq.load`, which injects events.js, is
    defined in `load_js` instead, so that it exists only once consent allows it. The
    guard keeps a stub or library already on the page (tracker.js) and its queue."""
    return (
        "!function(w,d,t){w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];if(ttq.instance)return;"
        'ttq.methods=["page","track","identify","instances","debug","on","off","once",'
        '"ready","alias","group","enableCookie","disableCookie","holdConsent",'
        '"revokeConsent","grantConsent"],ttq.setAndDefer=function(t,e){t[e]=function(){'
        "t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};"
        "for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);"
        "ttq.instance=function(t){for(var e=ttq._i[t]||[],n=0;n<ttq.methods.length;n++)"
        "ttq.setAndDefer(e,ttq.methods[n]);return e};"
        "}(window,document,'ttq');"
    )


def _instance(code: ResolvedCode) -> str:
    return f"ttq.instance({js_literal(code.tag_id)})"


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """The stub, and consent held before the first `load`."""
    return _stub_js() + "ttq.holdConsent();"


def load_js(ctx: SnippetContext) -> str:
    """The base code's `ttq.load` (registers a pixel, injects events.js for it),
    verbatim except that the script carries the nonce and the pixel id is URL-encoded."""
    return (
        "if(!ttq.load){ttq.load=function(e,n){var t='ttq',"
        'r="https://analytics.tiktok.com/i18n/pixel/events.js",o=n&&n.partner;'
        "ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=r,ttq._t=ttq._t||{},ttq._t[e]=+new Date,"
        'ttq._o=ttq._o||{},ttq._o[e]=n||{};n=document.createElement("script");'
        'n.type="text/javascript",n.async=!0,'
        'n.src=r+"?sdkid="+encodeURIComponent(e)+"&lib="+t;'
        f"{loader_nonce_js('n', ctx.nonce)}"
        'e=document.getElementsByTagName("script")[0];e.parentNode.insertBefore(n,e)};}'
    )


def init_js(code: ResolvedCode, ctx: SnippetContext) -> str:
    """`load` for the pixel; `identify` (advanced matching) only with `ad_user_data`."""
    parts = [f"ttq.load({js_literal(code.tag_id)});"]
    matching = matching_fields(ctx.user_data, USER_DATA_KEYS) if code.advanced_matching else {}
    if matching:
        parts.append(if_user_data_granted(f"{_instance(code)}.identify({js_literal(matching)});"))
    return "".join(parts)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    name = EVENT_NAMES.get(event.name)
    if name is None:
        return ""
    if event.name == "page_view":
        return f"{_instance(code)}.page();"
    params = pixel_params(code, event, PARAM_KEYS)
    return (
        f"{_instance(code)}.track({js_literal(name)},{js_literal(params)},"
        f"{js_literal({'event_id': event.event_id})});"
    )


def consent_js(codes: Sequence[ResolvedCode]) -> str:
    """Inside `Usher.consent`: `c` holds the visitor's Consent Mode choice."""
    return "if(c.ad_storage==='granted'){ttq.grantConsent();}else{ttq.revokeConsent();}"
