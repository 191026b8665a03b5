"""Server-rendered tracking snippets: the `<head>` HTML for resolved codes.

For marketplace pages rendered on the server; pages that cannot call Python load
tracker.js instead, which does the same in the browser. Both follow the providers'
official base codes (docs/platforms.md, Page snippets) with three rules that matter on a page
carrying several tenants' codes:

- every provider's base code is loaded once, and every code is initialised on its own;
- every event is addressed to one code at a time (Meta `trackSingle`, gtag `send_to`
  a per-code group, `ttq.instance(id)`, a per-container GTM dataLayer), so no pixel
  swallows or duplicates another's events, and only codes whose `conversion_events`
  include an event receive it;
- consent is opt-in and nothing reaches a platform before it. What runs at once only
  defines the platforms' stubs and holds their consent (Meta revoked, TikTok held,
  Google Consent Mode v2 defaulting to denied): no library is requested. Each code's
  init and events wait in a registry until `Usher.consent({...})` grants a purpose that
  covers the code (the same mapping as tracker.js: Meta, Google Ads and TikTok need
  `ad_storage`, GA4 `analytics_storage`, GTM either); then its library is loaded, the
  code initialised, the platform's consent updated and its events, with the ids
  rendered here, delivered. Advanced matching additionally needs `ad_user_data`.

Everything that comes from a user (ids, custom params, event names, order ids) reaches
the HTML only through `js_literal` (inside scripts) or Django's escaping (attributes),
so no value can close a script or inject markup.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import import_module
from typing import Any, Protocol, cast

from django.utils.html import format_html

from usher.events.names import StandardEvent
from usher.tracking.resolved import ResolvedCode

# provider -> the module rendering its pieces. The only place that names providers;
# imported lazily because those modules import the helpers below.
PROVIDER_SNIPPETS: dict[str, str] = {
    "meta": "usher.platforms.meta.snippet",
    "ga4": "usher.platforms.ga4.snippet",
    "google_ads": "usher.platforms.google_ads.snippet",
    "gtm": "usher.platforms.gtm.snippet",
    "tiktok": "usher.platforms.tiktok.snippet",
}

# Consent Mode v2 purposes, in Google's names; tracker.js and the server pipeline use
# the same four keys so one consent snapshot serves every provider.
CONSENT_PURPOSES: tuple[str, ...] = (
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
)
# How long Google tags wait for the consent banner's update before using the default.
CONSENT_WAIT_FOR_UPDATE_MS = 500

# Characters that are legal in JSON strings but dangerous inside an HTML <script>:
# `<`/`>` could form `</script>` or `<!--`, `&` matters in XHTML, and U+2028/2029 end
# lines in older JavaScript engines.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
_FORBIDDEN_IN_SCRIPT = ("</script", "<!--", "<script")


class PageType(StrEnum):
    """What kind of marketplace page is being rendered; decides the events it fires."""

    EVENT = "event"
    CHECKOUT = "checkout"
    THANK_YOU = "thank_you"
    OTHER = "other"


# page_view fires on every page, as every platform's base code does (retargeting and
# "visited" audiences depend on it); each page type adds its own funnel step.
PAGE_EVENTS: dict[PageType, tuple[str, ...]] = {
    PageType.EVENT: (StandardEvent.PAGE_VIEW, StandardEvent.VIEW_ITEM),
    PageType.CHECKOUT: (StandardEvent.PAGE_VIEW, StandardEvent.BEGIN_CHECKOUT),
    PageType.THANK_YOU: (StandardEvent.PAGE_VIEW, StandardEvent.PURCHASE),
    PageType.OTHER: (StandardEvent.PAGE_VIEW,),
}


@dataclass(frozen=True)
class PageContext:
    """What the page is about. Ids and names here may come from users: never trusted."""

    page_type: PageType | str = PageType.EVENT
    # The event's id as pixels, conversions and catalogs know it: always
    # `usher.marketplace.content_ids.event_content_id(event)`.
    content_id: str = ""
    event_name: str = ""
    currency: str = ""
    value: Decimal | float | None = None  # ticket price, or the order total on thank-you
    quantity: int | None = None
    order_id: str = ""  # thank-you page: the core's order id (dedup key with the server)
    # Visitor data for advanced matching (keys: email, phone, external_id); it only
    # goes to codes with `advanced_matching`, and the platforms hash it client-side.
    user_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventData:
    """One event to fire, in our neutral terms; each provider module maps it."""

    name: str  # a StandardEvent value
    event_id: str  # shared by every pixel and the server-side copy (dedup)
    value: Decimal | float | None = None
    currency: str = ""
    content_ids: tuple[str, ...] = ()
    content_name: str = ""
    quantity: int | None = None
    order_id: str = ""


@dataclass(frozen=True)
class SnippetContext:
    nonce: str | None = None
    user_data: Mapping[str, str] = field(default_factory=dict)


class ProviderSnippet(Protocol):
    """What each `usher/platforms/<name>/snippet.py` module provides.

    The pieces are split by *when* they may run, because opt-in consent decides what may
    leave the page: `setup_js` runs at once and must send and load nothing; `load_js`,
    `init_js` and the events run only after the visitor granted one of `CONSENT_ANY_OF`.

    Providers that share one loader (GA4 and Google Ads share gtag.js) declare the same
    `LOADER`; its `setup_js`, `load_js` and `consent_js` then run once for all their
    codes, while `init_js` and `event_js` stay per code.
    """

    LOADER: str
    # The Consent Mode purposes of which any one lets a code of this provider run.
    CONSENT_ANY_OF: tuple[str, ...]

    def setup_js(self, codes: Sequence[ResolvedCode], ctx: SnippetContext) -> str:
        """Stubs/queues and the consent hold, run at once: nothing is loaded or sent."""
        ...

    def load_js(self, ctx: SnippetContext) -> str:
        """Body of `function(id)` injecting the platform library; run once, on grant."""
        ...

    def init_js(self, code: ResolvedCode, ctx: SnippetContext) -> str:
        """Body of `function(c)` initialising `code` on grant; `c` is the consent state."""
        ...

    def event_js(self, code: ResolvedCode, event: EventData, ctx: SnippetContext) -> str:
        """One event for `code`, delivered after its init and the consent update."""
        ...

    def consent_js(self, codes: Sequence[ResolvedCode]) -> str:
        """Body of `function(c)` passing the visitor's choice `c` to the platform."""
        ...


# --- escaping helpers shared by the provider modules ---


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} for a script")


def js_literal(value: Any) -> str:
    """`value` as a JavaScript literal that is safe anywhere inside an HTML <script>."""
    encoded = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=_json_default)
    return encoded.translate(_SCRIPT_ESCAPES)


def js_call(function: str, *args: Any) -> str:
    """`function(arg, ...);` with every argument encoded by `js_literal`."""
    return f"{function}({','.join(js_literal(arg) for arg in args)});"


def script_tag(js: str, nonce: str | None) -> str:
    """An inline <script> carrying the CSP nonce. The body is built only from fixed code
    and `js_literal` values; the check guards against a future helper forgetting that."""
    lowered = js.lower()
    if any(marker in lowered for marker in _FORBIDDEN_IN_SCRIPT):
        raise ValueError("script body contains markup that would end or nest the script")
    if nonce:
        return str(format_html('<script nonce="{}">', nonce)) + js + "</script>"
    return f"<script>{js}</script>"


def loader_nonce_js(element: str, nonce: str | None) -> str:
    """JS that puts the nonce on a script a loader creates (`element` is its variable).

    Under `'strict-dynamic'` the nonce is not needed, but pages whose CSP lists only
    nonces would otherwise block the platforms' libraries.
    """
    return f"{element}.setAttribute('nonce',{js_literal(nonce)});" if nonce else ""


def inject_script_js(src_js: str, nonce: str | None) -> str:
    """JS adding an async `<script>` whose URL is the JS expression `src_js`.

    Used only inside the functions `Usher.consent` runs on grant: injecting a platform's
    library is the first request to that platform.
    """
    return (
        f"var t=document.createElement('script');t.async=!0;t.src={src_js};"
        f"{loader_nonce_js('t', nonce)}(document.head||document.documentElement).appendChild(t);"
    )


# Inside the functions `Usher.consent` runs, `c` is the visitor's consent state.
AD_USER_DATA_GRANTED_JS = "c.ad_user_data==='granted'"


def if_user_data_granted(with_data_js: str, without_data_js: str = "") -> str:
    """`with_data_js` when the visitor allowed user data for ads, else `without_data_js`.

    Advanced matching sends the visitor's email and phone to the platform: Consent Mode
    names that purpose `ad_user_data`, and `ad_storage` alone does not cover it.
    """
    fallback = f"else{{{without_data_js}}}" if without_data_js else ""
    return f"if({AD_USER_DATA_GRANTED_JS}){{{with_data_js}}}{fallback}"


def consent_defaults() -> dict[str, Any]:
    """Google Consent Mode v2 defaults (opt-in): everything denied until the banner."""
    defaults: dict[str, Any] = dict.fromkeys(CONSENT_PURPOSES, "denied")
    defaults["wait_for_update"] = CONSENT_WAIT_FOR_UPDATE_MS
    return defaults


def merged_params(code: ResolvedCode, standard: Mapping[str, Any]) -> dict[str, Any]:
    """The code's custom params plus the standard ones; ours win, so a custom param can
    never change an order's value or currency."""
    return {**code.custom_params, **{k: v for k, v in standard.items() if v not in (None, "")}}


# --- events of a page ---


def purchase_event_id(order_id: str) -> str:
    """The purchase's event id, derived from the order so that the pixels' copy and the
    server-side copy (conversions pipeline, tracker.js) deduplicate."""
    return f"order-{order_id}"


def new_event_id() -> str:
    return str(uuid.uuid4())


def page_events(page: PageContext) -> tuple[EventData, ...]:
    """The events a page of this type fires, each with its own shared event id."""
    try:
        names = PAGE_EVENTS[PageType(page.page_type)]
    except ValueError:
        names = PAGE_EVENTS[PageType.OTHER]
    content_ids = (page.content_id,) if page.content_id else ()
    events = []
    for name in names:
        if name == StandardEvent.PAGE_VIEW:
            events.append(EventData(name=name, event_id=new_event_id()))
            continue
        is_purchase = name == StandardEvent.PURCHASE
        event_id = (
            purchase_event_id(page.order_id) if is_purchase and page.order_id else new_event_id()
        )
        events.append(
            EventData(
                name=name,
                event_id=event_id,
                value=page.value,
                currency=page.currency,
                content_ids=content_ids,
                content_name=page.event_name,
                quantity=page.quantity,
                order_id=page.order_id if is_purchase else "",
            )
        )
    return tuple(events)


# --- rendering ---


@cache
def snippet_module(provider: str) -> ProviderSnippet:
    return cast(ProviderSnippet, import_module(PROVIDER_SNIPPETS[provider]))


def merge_duplicates(codes: Iterable[ResolvedCode]) -> list[ResolvedCode]:
    """One code per (provider, id), in the resolver's order; events are united.

    An organizer and the marketplace may use the same pixel; initialising it twice
    would send every event to it twice.
    """
    merged: dict[tuple[str, str], ResolvedCode] = {}
    for code in codes:
        key = (code.provider, code.tag_id)
        first = merged.get(key)
        if first is None:
            merged[key] = code
            continue
        events = (
            *first.conversion_events,
            *(e for e in code.conversion_events if not first.receives(e)),
        )
        merged[key] = ResolvedCode(
            provider=first.provider,
            source=first.source,
            code_id=first.code_id,
            tag_id=first.tag_id,
            conversion_events=events,
            advanced_matching=first.advanced_matching or code.advanced_matching,
            custom_params={**code.custom_params, **first.custom_params},
            conversion_labels={**code.conversion_labels, **first.conversion_labels},
        )
    return list(merged.values())


def _by_loader(codes: Sequence[ResolvedCode]) -> list[tuple[ProviderSnippet, list[ResolvedCode]]]:
    groups: dict[str, tuple[ProviderSnippet, list[ResolvedCode]]] = {}
    for code in codes:
        module = snippet_module(code.provider)
        groups.setdefault(module.LOADER, (module, []))[1].append(code)
    return list(groups.values())


# The registry the loader scripts fill and `Usher.consent` drains: `loaders` (library
# injection, once each), `consents` (consent updates) and `codes` (per code: the
# purposes that allow it, its init and its events). Kept on `window.Usher` so that
# several render_snippets outputs on one page share one consent hook.
REGISTRY_JS = "var S=U._snippets=U._snippets||{codes:[],loaders:{},consents:[]};"

# `Usher.consent(choice)`: the same call and the same reading of `choice` as tracker.js
# ('granted'/true, 'denied'/false, a purpose left out keeps its value). On each call it
# starts every code a granted purpose now allows (library, then init), passes the
# choice to every platform, then delivers the started codes' events: platforms get
# their events after the consent update, as tracker.js does. An existing
# `Usher.consent` (tracker.js on the same page) is kept and called first.
CONSENT_RUNTIME_JS = (
    "(function(U){var S=U._snippets;if(!S||S.hooked)return;S.hooked=true;"
    "var k=" + js_literal(list(CONSENT_PURPOSES)) + ",prev=U.consent;"
    "function run(f,a){try{return f.apply(null,a);}catch(e){"
    "if(window.console&&console.warn)console.warn('[usher] a tracking call failed',e);}}"
    "U.consent=function(choice){if(typeof prev==='function')run(prev,[choice]);"
    "var c={},old=S.consent||{},fresh=[],i,v;"
    "for(i=0;i!==k.length;i++){v=choice?choice[k[i]]:undefined;"
    "c[k[i]]=(v===true||v==='granted')?'granted':(v===false||v==='denied')?'denied':"
    "(old[k[i]]||'denied');}"
    "S.consent=c;"
    "S.codes.forEach(function(e){var l=S.loaders[e.loader];"
    "if(e.on||!e.purposes.some(function(p){return c[p]==='granted';}))return;"
    "e.on=true;if(!l.loaded){l.loaded=true;run(l.load,[e.id]);}run(e.init,[c]);fresh.push(e);});"
    "S.consents.forEach(function(f){run(f,[c]);});"
    "fresh.forEach(function(e){run(e.send,[c]);});"
    "var out={};for(i=0;i!==k.length;i++)out[k[i]]=c[k[i]];return out;};"
    "})(window.Usher);"
)


def _loader_script(
    module: ProviderSnippet,
    codes: Sequence[ResolvedCode],
    events: Sequence[EventData],
    ctx: SnippetContext,
) -> str:
    """One loader's JS: its stubs and consent hold at once; its library, each code's
    init and each code's events registered for `Usher.consent` to run on grant."""
    loader = js_literal(module.LOADER)
    parts = [
        "(function(U){",
        REGISTRY_JS,
        module.setup_js(codes, ctx),
        f"S.loaders[{loader}]=S.loaders[{loader}]||{{load:function(id){{{module.load_js(ctx)}}}}};",
        f"S.consents.push(function(c){{{module.consent_js(codes)}}});",
    ]
    for code in codes:
        provider = snippet_module(code.provider)
        sends = "".join(
            provider.event_js(code, event, ctx) for event in events if code.receives(event.name)
        )
        parts.append(
            f"S.codes.push({{loader:{loader},purposes:{js_literal(list(provider.CONSENT_ANY_OF))},"
            f"id:{js_literal(code.tag_id)},init:function(c){{{provider.init_js(code, ctx)}}},"
            f"send:function(c){{{sends}}}}});"
        )
    parts.append("})(window.Usher=window.Usher||{});")
    return "".join(parts)


def tracker_page_events(events: Sequence[EventData]) -> list[dict[str, Any]]:
    """The rendered events as tracker.js's `pageEvents` option takes them, so that a page
    whose pixels are server-rendered sends the same events, under the same ids, to the
    collector: `Usher.init({client, event, pixels: false, pageEvents: ...})`."""
    return [
        {
            key: value
            for key, value in {
                "name": event.name,
                "event_id": event.event_id,
                "value": float(event.value) if event.value is not None else None,
                "currency": event.currency,
                "quantity": event.quantity,
                "content_ids": list(event.content_ids),
                "content_name": event.content_name,
                "order_id": event.order_id,
            }.items()
            if value not in (None, "", [])
        }
        for event in events
    ]


def render_snippets(
    codes: Sequence[ResolvedCode],
    *,
    nonce: str | None = None,
    page: PageContext | None = None,
    events: Sequence[EventData] | None = None,
) -> dict[str, str]:
    """`{"head": ..., "body": ...}` HTML for `codes` on a page described by `page`.

    `head` goes at the top of <head>: one script per platform library plus the consent
    hook, none of which sends or loads anything before `Usher.consent(...)` grants it.
    `body` is kept for templates that place it after <body> but is empty: GTM's
    `<noscript>` iframe, its only content, cannot be consent-gated (see gtm/snippet.py).
    Without `page`, only page_view fires. `events` (from `page_events(page)`) fixes the
    events and their ids, for a caller that hands the same ones to tracker.js (see
    `tracker_page_events`). Codes of unknown providers are skipped.
    """
    page = page or PageContext(page_type=PageType.OTHER)
    ctx = SnippetContext(nonce=nonce, user_data=dict(page.user_data))
    known = merge_duplicates(code for code in codes if code.provider in PROVIDER_SNIPPETS)
    if not known:
        return {"head": "", "body": ""}
    events = page_events(page) if events is None else events
    head = [
        script_tag(_loader_script(module, group, events, ctx), nonce)
        for module, group in _by_loader(known)
    ]
    head.append(script_tag(CONSENT_RUNTIME_JS, nonce))
    return {"head": "\n".join(head), "body": ""}
