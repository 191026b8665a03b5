"""Google Tag Manager for server-rendered pages (PLATFORMS.md 1.3, 1.7).

Each container gets its own dataLayer (the official snippet's `l` argument): GTM acts
on everything pushed to its dataLayer, including gtag.js commands, so containers sharing
`dataLayer` with each other or with GA4 would fire each other's triggers. Consent Mode
defaults are pushed into each container's dataLayer before `gtm.js`, and events are
pushed in GA4's ecommerce shape, which is what GTM triggers and tags expect.

The head part is Google's nonce-aware snippet, which copies the nonce onto gtm.js; GTM
then propagates it to the tags it adds. The `<noscript>` iframe goes in `body`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.utils.html import format_html

from usher.platforms.ga4.snippet import EVENT_NAMES
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    EventData,
    SnippetContext,
    consent_defaults,
    js_literal,
    merged_params,
)

LOADER = "gtm"
NOSCRIPT_URL = "https://www.googletagmanager.com/ns.html"

__all__ = ["EVENT_NAMES", "LOADER", "body_html", "consent_js", "event_js", "setup_js"]


def data_layer_name(code: ResolvedCode) -> str:
    """The container's own dataLayer; stable for a code."""
    return f"usherDataLayer_{code.source}_{code.code_id}"


def _container_js(code: ResolvedCode) -> str:
    # Google's snippet, with the nonce copy from its CSP guide; ids are URL-encoded.
    return (
        "(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),"
        "event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s),"
        "dl=l!='dataLayer'?'&l='+encodeURIComponent(l):'';j.async=true;"
        "j.src='https://www.googletagmanager.com/gtm.js?id='+encodeURIComponent(i)+dl;"
        "var n=d.querySelector('[nonce]');n&&j.setAttribute('nonce',n.nonce||"
        "n.getAttribute('nonce'));f.parentNode.insertBefore(j,f);})(window,document,"
        f"'script',{js_literal(data_layer_name(code))},{js_literal(code.tag_id)});"
    )


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    parts = []
    for code in codes:
        layer = js_literal(data_layer_name(code))
        parts.append(
            f"(function(l){{var q=window[l]=window[l]||[];function g(){{q.push(arguments);}}"
            f"g('consent','default',{js_literal(consent_defaults())});}})({layer});"
        )
        parts.append(_container_js(code))
    return "".join(parts)


def event_payload(code: ResolvedCode, event: EventData) -> dict[str, Any]:
    items = [
        {
            k: v
            for k, v in {
                "item_id": cid,
                "item_name": event.content_name or None,
                "quantity": event.quantity,
            }.items()
            if v is not None
        }
        for cid in event.content_ids
    ]
    ecommerce = {
        k: v
        for k, v in {
            "currency": event.currency,
            "value": event.value,
            "transaction_id": event.order_id,
            "items": items,
        }.items()
        if v not in (None, "", [])
    }
    payload = merged_params(code, {"event": EVENT_NAMES[event.name], "event_id": event.event_id})
    if ecommerce:
        payload["ecommerce"] = ecommerce
    return payload


def event_js(code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
    if event.name not in EVENT_NAMES:
        return ""
    layer = f"window[{js_literal(data_layer_name(code))}]"
    # Clearing `ecommerce` first stops GTM merging items from a previous event.
    return (
        f"{layer}.push({{ecommerce:null}});{layer}.push({js_literal(event_payload(code, event))});"
    )


def consent_js(codes: Sequence[ResolvedCode]) -> str:
    """Inside `Usher.consent`: push the update into every container's dataLayer."""
    layers = js_literal([data_layer_name(code) for code in codes])
    return (
        f"{layers}.forEach(function(l){{var q=window[l]=window[l]||[];"
        "(function(){q.push(arguments);})('consent','update',c);});"
    )


def body_html(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """GTM's noscript fallback, right after <body> (for visitors without JavaScript)."""
    return "".join(
        str(
            format_html(
                '<noscript><iframe src="{}?{}" height="0" width="0" '
                'style="display:none;visibility:hidden"></iframe></noscript>',
                NOSCRIPT_URL,
                urlencode({"id": code.tag_id}),
            )
        )
        for code in codes
    )
