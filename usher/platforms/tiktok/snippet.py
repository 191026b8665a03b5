"""TikTok Pixel for server-rendered pages (PLATFORMS.md 1.4, 1.6, 8.2).

The base code is loaded once; consent is held before the first `load`, then each pixel
is loaded and every call goes through `ttq.instance(id)`: calls on the global `ttq`
reach every loaded pixel. Events carry `event_id`, the dedup key with the Events API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    js_literal,
    loader_nonce_js,
    merged_params,
)

LOADER = "tiktok"

# Our event names -> TikTok's standard events; page_view is `ttq.page()` (PLATFORMS.md 1.6).
EVENT_NAMES: dict[str, str] = {
    "page_view": "PageView",
    "view_item": "ViewContent",
    "add_to_cart": "AddToCart",
    "begin_checkout": "InitiateCheckout",
    "purchase": "Purchase",
}

# Our advanced-matching keys -> `identify` keys (the pixel hashes plain values).
USER_DATA_KEYS: dict[str, str] = {
    "email": "email",
    "phone": "phone_number",
    "external_id": "external_id",
}


def _base_code(nonce: str | None) -> str:
    # TikTok's base code (stub and `load`), verbatim except that the injected library
    # carries the nonce and the pixel id is URL-encoded; it neither loads nor pages here.
    return (
        "!function(w,d,t){w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];"
        'ttq.methods=["page","track","identify","instances","debug","on","off","once",'
        '"ready","alias","group","enableCookie","disableCookie","holdConsent",'
        '"revokeConsent","grantConsent"],ttq.setAndDefer=function(t,e){t[e]=function(){'
        "t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};"
        "for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);"
        "ttq.instance=function(t){for(var e=ttq._i[t]||[],n=0;n<ttq.methods.length;n++)"
        "ttq.setAndDefer(e,ttq.methods[n]);return e},ttq.load=function(e,n){"
        'var r="https://analytics.tiktok.com/i18n/pixel/events.js",o=n&&n.partner;'
        "ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=r,ttq._t=ttq._t||{},ttq._t[e]=+new Date,"
        'ttq._o=ttq._o||{},ttq._o[e]=n||{};n=document.createElement("script");'
        'n.type="text/javascript",n.async=!0,'
        'n.src=r+"?sdkid="+encodeURIComponent(e)+"&lib="+t;'
        f"{loader_nonce_js('n', nonce)}"
        'e=document.getElementsByTagName("script")[0];e.parentNode.insertBefore(n,e)};'
        "}(window,document,'ttq');"
    )


def _instance(code: ResolvedCode) -> str:
    return f"ttq.instance({js_literal(code.tag_id)})"


def identity(user_data: Mapping[str, str]) -> dict[str, str]:
    return {USER_DATA_KEYS[k]: v for k, v in user_data.items() if k in USER_DATA_KEYS and v}


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    parts = [_base_code(ctx.nonce), "ttq.holdConsent();"]
    parts.extend(f"ttq.load({js_literal(code.tag_id)});" for code in codes)
    for code in codes:
        matching = identity(ctx.user_data) if code.advanced_matching else {}
        if matching:
            parts.append(f"{_instance(code)}.identify({js_literal(matching)});")
    return "".join(parts)


def event_params(code: ResolvedCode, event: EventData) -> dict[str, Any]:
    standard: dict[str, Any] = {
        "content_ids": list(event.content_ids) or None,
        "content_type": "product" if event.content_ids else None,
        "description": event.content_name,
        "quantity": event.quantity,
        "value": event.value,
        "currency": event.currency,
        "order_id": event.order_id,
    }
    return merged_params(code, standard)


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    name = EVENT_NAMES.get(event.name)
    if name is None:
        return ""
    if event.name == "page_view":
        return f"{_instance(code)}.page();"
    return (
        f"{_instance(code)}.track({js_literal(name)},{js_literal(event_params(code, event))},"
        f"{js_literal({'event_id': event.event_id})});"
    )


def consent_js(codes: Sequence[ResolvedCode]) -> str:
    """Inside `Usher.consent`: `c` holds the visitor's Consent Mode choice."""
    return "if(c.ad_storage==='granted'){ttq.grantConsent();}else{ttq.revokeConsent();}"


def body_html(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    return ""
