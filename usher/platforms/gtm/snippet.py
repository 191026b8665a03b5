"""Google Tag Manager for server-rendered pages.

What the container expects: docs/platforms.md, Page snippets: Google Tag Manager and
consent.

Each container gets its own dataLayer (the official snippet's `l` argument): GTM acts
on everything pushed to its dataLayer, including gtag.js commands, so containers sharing
`dataLayer` with each other or with GA4 would fire each other's triggers. Consent Mode
defaults are pushed into each container's dataLayer before `gtm.js`, and events are
pushed in GA4's ecommerce shape, which is what GTM triggers and tags expect.

Consent: the defaults (denied) are queued at once; Google's nonce-aware snippet, which
pushes `gtm.start` and injects gtm.js (copying the nonce, which GTM then propagates to
the tags it adds), runs only when `Usher.consent` grants `ad_storage` or
`analytics_storage`: a container holds both kinds of tags, its Google tags follow the
Consent Mode state in its dataLayer, other tags must use GTM's consent checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
CONSENT_ANY_OF: tuple[str, ...] = ("ad_storage", "analytics_storage")
# No `<noscript>` ns.html iframe in `body`: it loads without JavaScript, so no consent can gate it.

__all__ = [
    "CONSENT_ANY_OF",
    "EVENT_NAMES",
    "LOADER",
    "consent_js",
    "event_js",
    "init_js",
    "load_js",
    "setup_js",
]


def data_layer_name(code: ResolvedCode) -> str:
    """The container's own dataLayer; stable for a code."""
    return f"usherDataLayer_{code.source}_{code.code_id}"


def setup_js(codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
    """Each container's dataLayer with the Consent Mode defaults, before gtm.js exists."""
    return "".join(
        f"(function(l){{var q=window[l]=window[l]||[];function g(){{q.push(arguments);}}"
        f"g('consent','default',{js_literal(consent_defaults())});}})"
        f"({js_literal(data_layer_name(code))});"
        for code in codes
    )


def load_js(ctx: SnippetContext) -> str:
    """Nothing shared: each container loads its own gtm.js in `init_js`."""
    return ""


def init_js(code: ResolvedCode, ctx: SnippetContext) -> str:
    """Google's snippet, with the nonce copy from its CSP guide; ids are URL-encoded."""
    return (
        "(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),"
        "event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s),"
        "dl=l!='dataLayer'?'&l='+encodeURIComponent(l):'';j.async=true;"
        "j.src='https://www.googletagmanager.com/gtm.js?id='+encodeURIComponent(i)+dl;"
        "var n=d.querySelector('[nonce]');n&&j.setAttribute('nonce',n.nonce||"
        "n.getAttribute('nonce'));f.parentNode.insertBefore(j,f);})(window,document,"
        f"'script',{js_literal(data_layer_name(code))},{js_literal(code.tag_id)});"
    )


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
