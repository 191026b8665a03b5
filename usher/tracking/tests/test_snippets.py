"""Server-rendered snippets: safe with hostile values, nonce everywhere, every code
addressed on its own, and nothing loaded or sent before the visitor consents.

The consent tests run the rendered scripts in node against a minimal DOM: the platforms'
stub queues are exactly what their libraries would replay once loaded, and the scripts
created are every request the page could make to them."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from dataclasses import dataclass, replace
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    CONSENT_PURPOSES,
    EventData,
    PageContext,
    PageType,
    if_user_data_granted,
    js_literal,
    loader_nonce_js,
    merge_duplicates,
    page_events,
    purchase_event_id,
    render_snippets,
    script_tag,
    tracker_page_events,
)

HOSTILE = "</script><script>alert(1)</script>\"'<!--\u2028\u2029&amp;"
NONCE = "r4nd0m-N0nce_1"
ALL_EVENTS = ("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")
ALL_GRANTED = dict.fromkeys(CONSENT_PURPOSES, "granted")
ALL_DENIED = dict.fromkeys(CONSENT_PURPOSES, "denied")
ADS_WITHOUT_USER_DATA = {**ALL_GRANTED, "ad_user_data": "denied"}

needs_node = pytest.mark.usefixtures("node")  # CI fails without it, see conftest.require_tool

EVENT_PAGE = PageContext(
    page_type=PageType.EVENT,
    content_id="summer-fest",
    event_name="Summer Fest",
    currency="RON",
    value=Decimal("120.00"),
    quantity=1,
)

# A signed-in buyer's page: advanced-matching data is on the page, for codes that want it.
SIGNED_IN_PAGE = replace(EVENT_PAGE, user_data={"email": "a@b.example", "phone": "+40700"})

_code_ids = itertools.count(1)


def code(
    provider: str, tag_id: str, events=ALL_EVENTS, source="organizer_default", **kw
) -> ResolvedCode:
    return ResolvedCode(
        provider=provider,
        source=source,
        code_id=next(_code_ids),
        tag_id=tag_id,
        conversion_events=tuple(events),
        **kw,
    )


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Collector(HTMLParser):
    """Every element the browser would see, with script bodies as the browser splits them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.elements:
            self.elements[-1].text += data

    def handle_comment(self, data: str) -> None:
        self.elements.append(Element("!--", {}, data))


def parse(html: str) -> list[Element]:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser.elements


def every_provider(tag_id: str | None = None, **kw: Any) -> list[ResolvedCode]:
    return [
        code("meta", tag_id or "111111111111111", **kw),
        code("ga4", tag_id or "G-ORGTEST01", **kw),
        code("google_ads", tag_id or "AW-736702401", **kw),
        code("gtm", tag_id or "GTM-T37L75D", **kw),
        code("tiktok", tag_id or "COQDA8RC77U2TMR44LI0", **kw),
    ]


# --- escaping ---


def test_js_literal_cannot_end_a_script_or_open_a_comment():
    encoded = js_literal({"k": HOSTILE})
    for forbidden in ("</", "<!--", "<script", "\u2028", "\u2029", "&"):
        assert forbidden not in encoded
    assert json.loads(encoded) == {"k": HOSTILE}


def test_script_tag_refuses_a_body_that_would_end_the_script():
    with pytest.raises(ValueError):
        script_tag("var a='</script>';", None)


def test_hostile_ids_params_and_page_values_stay_inside_their_scripts():
    hostile = dict(custom_params={HOSTILE[:20]: HOSTILE, "ok": HOSTILE},
                   conversion_labels={"view_item": HOSTILE})  # fmt: skip
    codes = every_provider(HOSTILE, advanced_matching=True, **hostile)
    page = PageContext(
        page_type=PageType.THANK_YOU,
        content_id=HOSTILE,
        event_name=HOSTILE,
        currency=HOSTILE,
        value=Decimal("10"),
        order_id=HOSTILE,
        user_data={"email": HOSTILE},
    )
    html = render_snippets(codes, nonce=f'{NONCE}"><script>alert(1)</script>', page=page)

    head = parse(html["head"])
    # Four loaders (gtag serves GA4 and Ads) plus the consent hook; nothing else became an element.
    assert [e.tag for e in head] == ["script"] * 5
    for element in head:
        assert element.attrs["nonce"] == f'{NONCE}"><script>alert(1)</script>'
        assert "alert(1)</script>" not in element.text
        assert "\u2028" not in element.text and "<!--" not in element.text
    assert html["body"] == ""


@needs_node
def test_hostile_values_arrive_intact_in_the_platform_calls():
    codes = [
        code("meta", "111111111111111", custom_params={"note": HOSTILE}, advanced_matching=True),
        code("tiktok", "COQDA8RC77U2TMR44LI0", custom_params={"note": HOSTILE}),
        code("ga4", "G-ORGTEST01", custom_params={"note": HOSTILE}),
    ]
    page = PageContext(page_type=PageType.THANK_YOU, content_id=HOSTILE, order_id=HOSTILE,
                       value=5, user_data={"email": HOSTILE})  # fmt: skip
    calls = run_in_node(render_snippets(codes, nonce=NONCE, page=page)["head"], ALL_GRANTED)
    after = calls["steps"][-1]

    assert ["init", "111111111111111", {"em": HOSTILE}] in after["fbq"]
    meta_purchase = [
        c for c in after["fbq"] if c[:3] == ["trackSingle", "111111111111111", "Purchase"]
    ]
    assert meta_purchase[0][3]["note"] == HOSTILE
    assert meta_purchase[0][3]["content_ids"] == [HOSTILE]
    assert meta_purchase[0][4] == {"eventID": f"order-{HOSTILE}"}
    tiktok = after["ttq_instances"]["COQDA8RC77U2TMR44LI0"]
    assert tiktok[-1][:2] == ["track", "Purchase"] and tiktok[-1][2]["note"] == HOSTILE
    ga4 = [c for c in after["dataLayer"] if c[:2] == ["event", "purchase"]]
    assert ga4[0][2]["transaction_id"] == HOSTILE
    # Every library the snippets inject carries the nonce.
    assert after["injected"] and {s["nonce"] for s in after["injected"]} == {NONCE}


# --- nonce ---


def test_every_script_carries_the_nonce():
    html = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)
    scripts = [e for e in parse(html["head"]) if e.tag == "script"]
    assert len(scripts) == 5
    assert all(s.attrs.get("nonce") == NONCE for s in scripts)
    # And the libraries they inject get it too.
    assert html["head"].count(f"setAttribute('nonce',{js_literal(NONCE)})") == 3  # fb, gtag, tt
    assert "n&&j.setAttribute('nonce',n.nonce||n.getAttribute('nonce'))" in html["head"]  # GTM


def test_without_a_nonce_scripts_have_no_nonce_attribute():
    html = render_snippets(every_provider(), page=EVENT_PAGE)
    assert all("nonce" not in e.attrs for e in parse(html["head"]))
    assert "setAttribute('nonce',\"" not in html["head"]


def test_no_codes_render_nothing():
    assert render_snippets([], nonce=NONCE, page=EVENT_PAGE) == {"head": "", "body": ""}


def test_unknown_providers_are_skipped():
    html = render_snippets([code("pinterest", "123")], nonce=NONCE, page=EVENT_PAGE)
    assert html == {"head": "", "body": ""}


# --- several codes of one provider ---


def test_several_meta_pixels_share_one_base_code_and_each_gets_every_event_via_track_single():
    pixels = ["111111111111111", "222222222222222", "333333333333333"]
    codes = [
        code("meta", p, source=s)
        for p, s in zip(pixels, ["event", "marketplace", "marketplace"], strict=True)
    ]
    head = render_snippets(codes, nonce=NONCE, page=EVENT_PAGE)["head"]

    assert head.count("fbevents.js") == 1
    for pixel in pixels:
        assert head.count(f'fbq("init","{pixel}")') == 1
        assert f'fbq("trackSingle","{pixel}","PageView"' in head
        assert f'fbq("trackSingle","{pixel}","ViewContent"' in head
    assert 'fbq("track",' not in head and "fbq('track'," not in head
    view_ids = set(re.findall(r'"ViewContent",\{[^}]*\},\{"eventID":"([^"]+)"\}', head))
    assert len(view_ids) == 1  # one shared event id for the one event
    page_view_ids = set(re.findall(r'"PageView",\{\},\{"eventID":"([^"]+)"\}', head))
    assert len(page_view_ids) == 1 and page_view_ids != view_ids


def test_several_ga4_and_ads_codes_share_one_gtag_with_a_group_each():
    codes = [
        code("ga4", "G-ORGTEST01", source="event"),
        code("ga4", "G-MKTTEST01", source="marketplace"),
        code("google_ads", "AW-736702401", conversion_labels={"purchase": "3hJnCKSw6KEBEMHfpN8C"}),
    ]
    page = PageContext(page_type=PageType.THANK_YOU, content_id="fest", currency="EUR",
                       value=Decimal("99.50"), quantity=2, order_id="A-1")  # fmt: skip
    head = render_snippets(codes, nonce=NONCE, page=page)["head"]

    assert head.count("googletagmanager.com/gtag/js") == 1
    groups = re.findall(
        r'gtag\("config","([^"]+)",\{"groups":"([^"]+)","send_page_view":false\}', head
    )
    assert [g[0] for g in groups] == ["G-ORGTEST01", "G-MKTTEST01", "AW-736702401"]
    assert len({g[1] for g in groups}) == 3
    for _, group in groups[:2]:
        assert re.search(
            r'gtag\("event","purchase",\{"currency":"EUR","value":99.5,"transaction_id":"A-1",'
            rf'"items":\[\{{"item_id":"fest","quantity":2\}}\],"event_id":"order-A-1","send_to":"{group}"\}}\);',
            head,
        )
    assert (
        'gtag("event","conversion",{"send_to":"AW-736702401/3hJnCKSw6KEBEMHfpN8C","value":99.5,'
        '"currency":"EUR","transaction_id":"A-1",'
        '"items":[{"id":"fest","google_business_vertical":"custom"}]});'
    ) in head
    # Every event names its destination: none falls into gtag's default group.
    assert all('"send_to":' in call for call in re.findall(r'gtag\("event",[^;]*\);', head))


def test_several_tiktok_pixels_load_once_each_and_track_through_their_instance():
    codes = [code("tiktok", "AAAAAAAAAAAAAAAAAAA1"), code("tiktok", "BBBBBBBBBBBBBBBBBBB2")]
    head = render_snippets(codes, nonce=NONCE, page=EVENT_PAGE)["head"]

    assert head.count("TiktokAnalyticsObject") == 1
    for pixel in ("AAAAAAAAAAAAAAAAAAA1", "BBBBBBBBBBBBBBBBBBB2"):
        assert head.count(f'ttq.load("{pixel}")') == 1
        assert f'ttq.instance("{pixel}").page();' in head
        assert f'ttq.instance("{pixel}").track("ViewContent",' in head
    assert "ttq.page()" not in head and "ttq.track(" not in head


def test_a_pixel_used_by_organizer_and_marketplace_is_initialised_once():
    codes = [
        code("meta", "111111111111111", events=("purchase",), source="event"),
        code("meta", "111111111111111", events=("view_item",), source="marketplace"),
    ]
    head = render_snippets(codes, page=EVENT_PAGE)["head"]
    assert head.count('fbq("init","111111111111111")') == 1
    assert head.count('"ViewContent"') == 1


# --- which events go where ---


def test_events_go_only_to_codes_that_include_them():
    codes = [
        code("meta", "111111111111111", events=("purchase",)),
        code("meta", "222222222222222", events=("page_view", "view_item")),
        code("ga4", "G-ORGTEST01", events=("page_view",)),
        code("tiktok", "COQDA8RC77U2TMR44LI0", events=("view_item",)),
        code(
            "google_ads",
            "AW-736702401",
            events=("view_item",),
            conversion_labels={"purchase": "abcdefgh12"},
        ),
    ]
    head = render_snippets(codes, page=EVENT_PAGE)["head"]

    assert (
        '"111111111111111","PageView"' not in head and '"111111111111111","ViewContent"' not in head
    )
    assert '"222222222222222","PageView"' in head and '"222222222222222","ViewContent"' in head
    assert 'gtag("event","page_view"' in head
    assert 'ttq.instance("COQDA8RC77U2TMR44LI0").page()' not in head
    assert 'ttq.instance("COQDA8RC77U2TMR44LI0").track("ViewContent"' in head
    # Ads: view_item is wanted but has no label, so there is no conversion to fire, only
    # the dynamic remarketing event naming the catalog item.
    assert '"conversion"' not in head
    assert re.search(
        r'gtag\("event","view_item",\{"send_to":"usher_google_ads_[^"]+","value":[0-9.]+,'
        r'"items":\[\{"id":"summer-fest","google_business_vertical":"custom"\}\]\}\);',
        head,
    )


@pytest.mark.parametrize(
    ("page_type", "expected", "absent"),
    [
        (PageType.EVENT, ["PageView", "ViewContent"], ["InitiateCheckout", "Purchase"]),
        (PageType.CHECKOUT, ["PageView", "InitiateCheckout"], ["ViewContent", "Purchase"]),
        (PageType.THANK_YOU, ["PageView", "Purchase"], ["ViewContent", "InitiateCheckout"]),
        (PageType.OTHER, ["PageView"], ["ViewContent", "InitiateCheckout", "Purchase"]),
    ],
)
def test_each_page_type_fires_its_events(page_type, expected, absent):
    page = PageContext(page_type=page_type, content_id="fest", order_id="A-1", value=10)
    head = render_snippets([code("meta", "111111111111111")], page=page)["head"]
    for name in expected:
        assert f'"111111111111111","{name}"' in head
    for name in absent:
        assert f'"{name}"' not in head


def test_thank_you_page_sends_purchase_with_value_currency_order_and_content_ids():
    page = PageContext(page_type=PageType.THANK_YOU, content_id="fest", event_name="Fest",
                       currency="RON", value=Decimal("240.00"), quantity=2, order_id="A-1001")  # fmt: skip
    head = render_snippets(
        [code("meta", "111111111111111"), code("tiktok", "COQDA8RC77U2TMR44LI0")], page=page
    )["head"]

    assert purchase_event_id("A-1001") == "order-A-1001"
    assert (
        'fbq("trackSingle","111111111111111","Purchase",{"content_ids":["fest"],"content_type":"product",'
        '"content_name":"Fest","value":240.0,"currency":"RON","num_items":2,"order_id":"A-1001"},'
        '{"eventID":"order-A-1001"});'
    ) in head
    assert (
        'ttq.instance("COQDA8RC77U2TMR44LI0").track("Purchase",{"content_ids":["fest"],'
        '"content_type":"product","description":"Fest","quantity":2,"value":240.0,"currency":"RON",'
        '"order_id":"A-1001"},{"event_id":"order-A-1001"});'
    ) in head


def test_custom_params_are_added_but_cannot_override_the_order():
    meta = code("meta", "111111111111111", custom_params={"brand": "sunwave", "value": 1})
    page = PageContext(
        page_type=PageType.THANK_YOU, value=Decimal("50"), currency="EUR", order_id="A"
    )
    head = render_snippets([meta], page=page)["head"]
    assert '"Purchase",{"brand":"sunwave","value":50.0,"currency":"EUR","order_id":"A"}' in head


def test_advanced_matching_data_goes_only_to_codes_that_enable_it():
    page = PageContext(
        page_type=PageType.EVENT, user_data={"email": "a@b.example", "phone": "+40700"}
    )
    codes = [
        code("meta", "111111111111111", advanced_matching=True),
        code("meta", "222222222222222"),
    ]
    head = render_snippets(codes, page=page)["head"]
    assert 'fbq("init","111111111111111",{"em":"a@b.example","ph":"+40700"})' in head
    assert 'fbq("init","222222222222222");' in head


# --- GTM ---


def test_gtm_has_no_noscript_part_and_each_container_gets_its_own_data_layer():
    codes = [code("gtm", "GTM-T37L75D"), code("gtm", "GTM-57VKP3XQ", source="marketplace")]
    html = render_snippets(codes, nonce=NONCE, page=EVENT_PAGE)

    # The <noscript> iframe would load GTM for visitors without JavaScript, who can
    # never be asked for consent: it is not rendered at all.
    assert html["body"] == ""
    assert "ns.html" not in html["head"] and "noscript" not in html["head"]
    layers = re.findall(
        r"\(window,document,'script',\"([^\"]+)\",\"(GTM-[A-Z0-9]+)\"\)", html["head"]
    )
    assert [c for _, c in layers] == ["GTM-T37L75D", "GTM-57VKP3XQ"]
    assert len({layer for layer, _ in layers}) == 2 and "dataLayer" not in {
        lay for lay, _ in layers
    }
    for layer, _ in layers:
        assert f'window["{layer}"].push({{"event":"view_item"' in html["head"]


# --- consent: nothing leaves the page before it ---

LIBRARY_HOSTS = (
    "connect.facebook.net",
    "googletagmanager.com",
    "analytics.tiktok.com",
    "facebook.com",
    "tiktok.com",
)


def rendered_event_ids(head: str) -> set[str]:
    return set(re.findall(r'"(?:eventID|event_id)":"([^"]+)"', head))


def queued_event_ids(snapshot: dict[str, Any]) -> dict[str, set[str]]:
    """platform -> the event ids its library would receive from the queues."""
    meta = {c[4]["eventID"] for c in snapshot["fbq"] if c[0] == "trackSingle"}
    gtag = {
        c[2]["event_id"] for c in snapshot["dataLayer"] if c[0] == "event" and "event_id" in c[2]
    }
    tiktok = {
        c[3]["event_id"]
        for calls in snapshot["ttq_instances"].values()
        for c in calls
        if c[0] == "track"
    }
    gtm = {
        e["event_id"]
        for layer in snapshot["gtm_layers"].values()
        for e in layer
        if isinstance(e, dict) and "event_id" in e
    }
    return {"meta": meta, "gtag": gtag, "tiktok": tiktok, "gtm": gtm}


def test_consent_is_held_before_anything_initialises():
    head = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)["head"]

    # Google: Consent Mode v2 defaults, all denied, before js and every config.
    default = head.index(
        'gtag("consent","default",{"ad_storage":"denied","analytics_storage":"denied",'
        '"ad_user_data":"denied","ad_personalization":"denied","wait_for_update":500});'
    )
    assert default < head.index("gtag('js'") < head.index('gtag("config"')
    # GTM: the same defaults inside the container's own dataLayer, before gtm.js.
    assert head.index("g('consent','default'") < head.index("'gtm.start'")
    # Meta: revoked before the first init; TikTok: held before the first load.
    assert head.index('fbq("consent","revoke");') < head.index('fbq("init"')
    assert head.index("ttq.holdConsent();") < head.index('ttq.load("')
    # Each platform's consent follows the banner's choice.
    for update in ("fbq('consent',c.ad_storage==='granted'?'grant':'revoke')",
                   "gtag('consent','update',c)", "ttq.grantConsent()", "('consent','update',c)"):  # fmt: skip
        assert update in head
    assert "U.consent=function(choice)" in parse(head)[-1].text


@needs_node
def test_before_consent_no_library_is_requested_and_nothing_is_queued_but_the_consent_hold():
    head = render_snippets(every_provider(advanced_matching=True), page=SIGNED_IN_PAGE)["head"]
    before = run_in_node(head)["steps"][0]

    assert before["injected"] == []  # no <script src> at all, so no request to anyone
    assert before["fbq"] == [["consent", "revoke"]]
    assert [c[0] for c in before["dataLayer"]] == ["consent", "set", "js"]
    assert before["dataLayer"][0][2] == {**ALL_DENIED, "wait_for_update": 500}
    assert before["ttq"] == [["holdConsent"]] and before["ttq_instances"] == {}
    (layer,) = before["gtm_layers"].values()
    assert layer == [["consent", "default", {**ALL_DENIED, "wait_for_update": 500}]]
    assert not any(queued_event_ids(before).values())


@needs_node
def test_no_loader_url_and_no_platform_call_outside_the_consent_gated_functions():
    head = render_snippets(every_provider(advanced_matching=True), page=SIGNED_IN_PAGE)["head"]
    result = run_in_node(head)
    gated = result["gated"]
    outside = [e.text for e in parse(head)]
    for source in sorted(gated, key=len, reverse=True):
        outside = [text.replace(source, "") for text in outside]
    rest = "".join(outside)

    # Removing the gated functions removed something from every script, and with it
    # every URL and every element creation: nothing else can make a request.
    assert all(len(r) < len(e.text) for r, e in zip(outside, parse(head), strict=True))
    assert "http" not in rest and "createElement" not in rest
    for host in LIBRARY_HOSTS:
        assert host not in rest
    assert "fbevents.js" not in rest and "gtag/js" not in rest and "gtm.js" not in rest
    # The only platform calls left are the consent holds.
    fbq_calls = re.findall(r"fbq\([^;]*\)", rest)
    gtag_calls = re.findall(r"gtag\([^;]*\)", rest)
    ttq_calls = [c for c in re.findall(r"ttq\.(\w+)\(", rest) if c != "setAndDefer"]
    assert fbq_calls == ['fbq("consent","revoke")']
    assert [c.split("{")[0] for c in gtag_calls] == [
        'gtag("consent","default",',
        'gtag("set","ads_data_redaction",true)',
        "gtag('js',new Date())",
    ]
    assert ttq_calls == ["holdConsent"]
    platform_calls = (
        '"init"',
        "trackSingle",
        '"config"',
        "send_to",
        "eventID",
        "event_id",
        "gtm.start",
        ".page(",
        ".track(",
        ".identify(",
        "ttq.load(",
    )
    for forbidden in platform_calls:
        assert forbidden not in rest, forbidden
    # ...and every rendered event id, and the visitor's data, sits inside a gated function.
    assert rendered_event_ids(head) and not rendered_event_ids(rest)
    assert "a@b.example" in head and "a@b.example" not in rest


@needs_node
def test_on_grant_each_library_loads_once_and_the_queued_events_keep_their_ids():
    head = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)["head"]
    result = run_in_node(head, ALL_GRANTED)
    before, after = result["steps"]
    rendered = rendered_event_ids(head)

    assert not any(queued_event_ids(before).values())
    delivered = queued_event_ids(after)
    assert all(delivered.values()) and set().union(*delivered.values()) == rendered
    # One shared id per event: page_view and view_item, the same on every platform.
    assert len(rendered) == 2 and delivered["meta"] == delivered["gtag"] == rendered
    srcs = sorted(urlsplit(s["src"]).netloc + urlsplit(s["src"]).path for s in after["injected"])
    assert srcs == [
        "analytics.tiktok.com/i18n/pixel/events.js",
        "connect.facebook.net/en_US/fbevents.js",
        "www.googletagmanager.com/gtag/js",
        "www.googletagmanager.com/gtm.js",
    ]
    # Meta: revoked, initialised, granted, then the events (after the grant, as tracker.js).
    fbq = [c[:2] for c in after["fbq"]]
    first_event = fbq.index(["trackSingle", "111111111111111"])
    assert fbq.index(["consent", "revoke"]) < fbq.index(["init", "111111111111111"])
    assert fbq.index(["init", "111111111111111"]) < fbq.index(["consent", "grant"]) < first_event
    # Google: update after the configs, events after the update.
    dl = [c[:2] for c in after["dataLayer"]]
    update = dl.index(["consent", "update"])
    assert dl.index(["config", "G-ORGTEST01"]) < update < dl.index(["event", "page_view"])
    assert after["dataLayer"][update][2] == ALL_GRANTED
    # TikTok: held, loaded, granted; the instance's calls follow in events.js's replay.
    assert after["ttq"] == [["holdConsent"], ["grantConsent"]]
    assert [c[0] for c in after["ttq_instances"]["COQDA8RC77U2TMR44LI0"]] == ["page", "track"]
    (layer,) = after["gtm_layers"].values()
    assert [e[1] if isinstance(e, list) else e.get("event") for e in layer][:3] == [
        "default",
        "gtm.js",
        "update",
    ]
    assert result["returns"] == [ALL_GRANTED] and result["warnings"] == []


@needs_node
def test_each_code_waits_for_the_purpose_that_covers_it():
    head = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)["head"]
    analytics_only = {**ALL_DENIED, "analytics_storage": "granted"}
    result = run_in_node(head, analytics_only, {"ad_storage": "granted"}, ALL_GRANTED)
    _, analytics, ads, again = result["steps"]

    def hosts(snapshot: dict[str, Any]) -> list[str]:
        return sorted(urlsplit(s["src"]).path for s in snapshot["injected"])

    # analytics_storage: GA4 (gtag.js, named by GA4's id) and GTM; nothing for ads.
    assert hosts(analytics) == ["/gtag/js", "/gtm.js"]
    assert "id=G-ORGTEST01" in analytics["injected"][0]["src"]
    configs = [c[1] for c in analytics["dataLayer"] if c[0] == "config"]
    assert configs == ["G-ORGTEST01"]
    assert analytics["fbq"] == [["consent", "revoke"], ["consent", "revoke"]]
    assert analytics["ttq"] == [["holdConsent"], ["revokeConsent"]]
    assert analytics["ttq_instances"] == {}
    # ad_storage added later (analytics kept: a purpose left out keeps its value).
    assert result["returns"][1] == {**analytics_only, "ad_storage": "granted"}
    assert hosts(ads) == ["/en_US/fbevents.js", "/gtag/js", "/gtm.js", "/i18n/pixel/events.js"]
    configs = [c[1] for c in ads["dataLayer"] if c[0] == "config"]
    assert configs == ["G-ORGTEST01", "AW-736702401"]
    # GA4's events went out once, on the first grant; Ads and Meta got theirs now.
    page_views = [c for c in ads["dataLayer"] if c[:2] == ["event", "page_view"]]
    assert [c[2]["send_to"] for c in page_views] == [
        "usher_ga4_organizer_default_" + configs_group_suffix(head, "G-ORGTEST01"),
        "usher_google_ads_organizer_default_" + configs_group_suffix(head, "AW-736702401"),
    ]
    assert [c[0] for c in ads["fbq"]].count("trackSingle") == 2
    # Granting again sends nothing twice.
    assert again["injected"] == ads["injected"]
    assert queued_event_ids(again) == queued_event_ids(ads)
    assert len([c for c in again["fbq"] if c[0] == "trackSingle"]) == 2


def configs_group_suffix(head: str, tag_id: str) -> str:
    match = re.search(rf'gtag\("config","{tag_id}",\{{"groups":"usher_[a-z0-9_]+?_(\d+)"', head)
    assert match is not None
    return match.group(1)


@needs_node
def test_rejecting_everything_loads_nothing_and_passes_the_refusal_on():
    head = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)["head"]
    result = run_in_node(head, ALL_DENIED)
    after = result["steps"][-1]

    assert after["injected"] == [] and not any(queued_event_ids(after).values())
    assert after["fbq"] == [["consent", "revoke"], ["consent", "revoke"]]
    assert after["ttq"] == [["holdConsent"], ["revokeConsent"]]
    assert ["consent", "update", ALL_DENIED] in after["dataLayer"]
    assert result["returns"] == [ALL_DENIED]


@needs_node
@pytest.mark.parametrize(
    ("consent", "matched"), [(ADS_WITHOUT_USER_DATA, False), (ALL_GRANTED, True)]
)
def test_advanced_matching_needs_ad_user_data(consent, matched):
    user = {"email": "a@b.example", "phone": "+40700", "external_id": "u-1"}
    codes = [
        code("meta", "111111111111111", advanced_matching=True),
        code("tiktok", "COQDA8RC77U2TMR44LI0", advanced_matching=True),
        code("ga4", "G-ORGTEST01", advanced_matching=True),
    ]
    head = render_snippets(codes, page=PageContext(page_type=PageType.EVENT, user_data=user))[
        "head"
    ]
    after = run_in_node(head, consent)["steps"][-1]

    (init,) = [c for c in after["fbq"] if c[0] == "init"]
    identify = [c for c in after["ttq_instances"]["COQDA8RC77U2TMR44LI0"] if c[0] == "identify"]
    (config,) = [c for c in after["dataLayer"] if c[0] == "config"]
    if matched:
        meta_matching = {"em": "a@b.example", "ph": "+40700", "external_id": "u-1"}
        tiktok_matching = {"email": "a@b.example", "phone_number": "+40700", "external_id": "u-1"}
        assert init == ["init", "111111111111111", meta_matching]
        assert identify == [["identify", tiktok_matching]]
        assert config[2]["user_data"] == {"email": "a@b.example", "phone_number": "+40700"}
    else:
        assert init == ["init", "111111111111111"]
        assert identify == []
        assert "user_data" not in config[2]
        assert "a@b.example" not in json.dumps(after)
    # Either way the pixels and their events are there: ad_storage allows them.
    assert [c[0] for c in after["fbq"]].count("trackSingle") == 2  # page_view, view_item
    assert after["ttq_instances"]["COQDA8RC77U2TMR44LI0"][-1][0] == "track"


@needs_node
def test_an_existing_usher_consent_is_kept_and_called_with_the_same_choice():
    """tracker.js on the same page: the banner's one call reaches both."""
    head = render_snippets([code("meta", "111111111111111")], page=EVENT_PAGE)["head"]
    prelude = "window.Usher={version:'x',consent:function(c){window.seen=(window.seen||[]).concat([c]);}};"
    result = run_in_node(head, {"ad_storage": True}, prelude=prelude, read="seen")

    assert result["read"] == [{"ad_storage": True}]
    assert ["consent", "grant"] in result["steps"][-1]["fbq"]


# --- running the scripts ---

NODE_HARNESS = r"""
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const injected = [];
const warnings = [];
const element = (tag) => ({tag, attrs: {}, setAttribute(k, v) { this.attrs[k] = v; }});
const sandbox = {
  console: {warn: (...args) => warnings.push(args.map(String).join(' '))},
  document: {
    createElement: (tag) => { const e = element(tag); injected.push(e); return e; },
    getElementsByTagName: () => [{parentNode: {insertBefore() {}}}],
    querySelector: () => null,
    head: {appendChild() {}},
    documentElement: {appendChild() {}},
  },
};
sandbox.window = sandbox;
vm.createContext(sandbox);
if (input.prelude) vm.runInContext(input.prelude, sandbox);
for (const script of input.scripts) vm.runInContext(script, sandbox);
const list = (q) => Array.from(q || [], (e) => (typeof e === 'object' && e && e.length !== undefined ? Array.from(e) : e));
const copy = (v) => JSON.parse(JSON.stringify(v));
function snapshot() {
  const ttq = sandbox.ttq || [];
  const instances = {};
  for (const id of Object.keys(ttq._i || {})) instances[id] = list(ttq._i[id]);
  const layers = {};
  for (const key of Object.keys(sandbox)) if (key.startsWith('usherDataLayer_')) layers[key] = list(sandbox[key]);
  return copy({
    fbq: list(sandbox.fbq && sandbox.fbq.queue),
    dataLayer: list(sandbox.dataLayer),
    ttq: list(ttq),
    ttq_instances: instances,
    gtm_layers: layers,
    injected: injected.filter((e) => e.src).map((e) => ({src: e.src, nonce: e.attrs.nonce})),
  });
}
// The source text of every function that only Usher.consent runs.
const gated = [];
const registry = sandbox.Usher && sandbox.Usher._snippets;
if (registry) {
  for (const name of Object.keys(registry.loaders)) gated.push(String(registry.loaders[name].load));
  registry.consents.forEach((f) => gated.push(String(f)));
  registry.codes.forEach((e) => { gated.push(String(e.init)); gated.push(String(e.send)); });
  gated.push(String(sandbox.Usher.consent));
}
const steps = [snapshot()];
const returns = [];
for (const choice of input.consents) {
  returns.push(JSON.parse(vm.runInContext('JSON.stringify(Usher.consent(' + JSON.stringify(choice) + '))', sandbox)));
  steps.push(snapshot());
}
const read = input.read ? copy(sandbox[input.read]) : null;
console.log(JSON.stringify({steps, returns, gated, warnings, read}));
"""


def run_in_node(
    head_html: str,
    *consents: dict[str, Any],
    prelude: str = "",
    read: str = "",
) -> dict[str, Any]:
    """Run the head's scripts in node with a minimal DOM, then `Usher.consent(choice)` for
    each of `consents` in turn. Returns `steps`, a snapshot of what each platform's
    library would replay (its stub queues) and of the scripts injected, before any
    consent and after each call; `returns`, what each call returned; `gated`, the
    source of every function only `Usher.consent` runs; `warnings`; and the global
    named `read`, if any."""
    scripts = [e.text for e in parse(head_html) if e.tag == "script"]
    payload = {"scripts": scripts, "consents": list(consents), "prelude": prelude, "read": read}
    result = subprocess.run(
        ["node", "-e", NODE_HARNESS],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def test_js_literal_writes_tuples_sets_and_decimals_and_refuses_other_objects():
    assert js_literal({"ids": ("a", "b"), "one": frozenset({"c"}), "value": Decimal("12.50")}) == (
        '{"ids":["a","b"],"one":["c"],"value":12.5}'
    )
    with pytest.raises(TypeError, match=r"^cannot encode object for a script$"):
        js_literal(object())


def test_a_loader_sets_the_nonce_on_its_script_only_when_there_is_one():
    assert loader_nonce_js("t", None) == ""
    assert loader_nonce_js("t", NONCE) == f"t.setAttribute('nonce',\"{NONCE}\");"


def test_user_data_code_runs_only_when_ad_user_data_is_granted():
    assert if_user_data_granted("a()") == "if(c.ad_user_data==='granted'){a()}"
    assert if_user_data_granted("a()", "b()") == "if(c.ad_user_data==='granted'){a()}else{b()}"


def test_an_unknown_page_type_fires_only_page_view():
    assert [event.name for event in page_events(PageContext(page_type="bogus"))] == ["page_view"]


def test_only_the_purchase_carries_the_order_and_its_derived_event_id():
    event_page = page_events(PageContext(page_type=PageType.EVENT, order_id="77"))
    thank_you = page_events(PageContext(page_type=PageType.THANK_YOU, order_id="77"))
    without_order = page_events(PageContext(page_type=PageType.THANK_YOU))

    view_item = event_page[1]
    assert (view_item.order_id, view_item.event_id == purchase_event_id("77")) == ("", False)
    purchase = thank_you[1]
    assert (purchase.order_id, purchase.event_id) == ("77", purchase_event_id("77"))
    assert without_order[1].event_id != purchase_event_id("")


def test_tracker_page_events_pass_the_same_events_and_ids_without_empty_fields():
    events = (
        EventData(name="page_view", event_id="e-1"),
        EventData(
            name="purchase",
            event_id="order-7",
            value=Decimal("12.50"),
            currency="EUR",
            content_ids=("ev-1",),
            content_name="Show",
            quantity=2,
            order_id="7",
        ),
        EventData(name="view_item", event_id="e-2", value=Decimal("0"), quantity=0),
    )

    assert tracker_page_events(events) == [
        {"name": "page_view", "event_id": "e-1"},
        {
            "name": "purchase",
            "event_id": "order-7",
            "value": 12.5,
            "currency": "EUR",
            "quantity": 2,
            "content_ids": ["ev-1"],
            "content_name": "Show",
            "order_id": "7",
        },
        {"name": "view_item", "event_id": "e-2", "value": 0.0, "quantity": 0},  # free: kept
    ]


def test_js_literal_escapes_every_non_ascii_character():
    assert js_literal("São 정") == '"S\\u00e3o \\uc815"'


def test_script_tag_writes_the_nonce_and_names_what_it_refuses():
    assert script_tag("a()", "n1") == '<script nonce="n1">a()</script>'
    with pytest.raises(ValueError, match=r"^script body contains markup that would end or nest"):
        script_tag("'</script>'", None)


def test_a_merged_pixel_keeps_the_first_codes_identity_and_unites_the_rest():
    first = code(
        "meta",
        "111111111111111",
        events=("page_view", "purchase"),
        custom_params={"brand": "first", "a": "1"},
        conversion_labels={"purchase": "L1"},
    )
    second = code(
        "meta",
        "111111111111111",
        events=("view_item", "purchase"),
        source="marketplace",
        advanced_matching=True,
        custom_params={"brand": "second", "b": "2"},
        conversion_labels={"purchase": "L2", "view_item": "L3"},
    )
    other = code("meta", "222222222222222")

    merged = merge_duplicates([first, other, second])

    assert [m.tag_id for m in merged] == ["111111111111111", "222222222222222"]
    assert merged[0] == ResolvedCode(
        provider="meta",
        source=first.source,
        code_id=first.code_id,
        tag_id="111111111111111",
        conversion_events=("page_view", "purchase", "view_item"),
        advanced_matching=True,
        custom_params={"brand": "first", "b": "2", "a": "1"},
        conversion_labels={"purchase": "L1", "view_item": "L3"},
    )
    assert merged[1] == other


def test_the_events_handed_in_are_the_ones_rendered():
    events = (EventData(name="page_view", event_id="fixed-event-id-1"),)

    head = render_snippets([code("meta", "111111111111111")], page=EVENT_PAGE, events=events)[
        "head"
    ]

    assert "fixed-event-id-1" in head
    # The page's own events (with new random ids) were not made up again.
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", head)
