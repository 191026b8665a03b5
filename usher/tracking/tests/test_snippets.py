"""Server-rendered snippets: safe with hostile values, nonce everywhere, every code
addressed on its own, consent held before anything initialises."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import (
    PageContext,
    PageType,
    js_literal,
    purchase_event_id,
    render_snippets,
    script_tag,
)

HOSTILE = "</script><script>alert(1)</script>\"'<!--\u2028\u2029&amp;"
NONCE = "r4nd0m-N0nce_1"
ALL_EVENTS = ("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")

EVENT_PAGE = PageContext(
    page_type=PageType.EVENT,
    event_slug="summer-fest",
    event_name="Summer Fest",
    currency="RON",
    value=Decimal("120.00"),
    quantity=1,
)


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
    codes = every_provider(HOSTILE, **hostile)
    page = PageContext(
        page_type=PageType.THANK_YOU,
        event_slug=HOSTILE,
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
    body = parse(html["body"])
    assert [e.tag for e in body] == ["noscript", "iframe"]
    assert (
        body[1].attrs["src"].startswith("https://www.googletagmanager.com/ns.html?id=%3C%2Fscript")
    )
    assert "<script" not in html["body"] and "alert(1)</script>" not in html["body"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the scripts")
def test_hostile_values_arrive_intact_in_the_platform_calls():
    codes = [
        code("meta", "111111111111111", custom_params={"note": HOSTILE}),
        code("tiktok", "COQDA8RC77U2TMR44LI0", custom_params={"note": HOSTILE}),
        code("ga4", "G-ORGTEST01", custom_params={"note": HOSTILE}),
    ]
    page = PageContext(page_type=PageType.THANK_YOU, event_slug=HOSTILE, order_id=HOSTILE, value=5)
    calls = run_in_node(render_snippets(codes, nonce=NONCE, page=page)["head"])

    meta_purchase = [
        c for c in calls["fbq"] if c[:3] == ["trackSingle", "111111111111111", "Purchase"]
    ]
    assert meta_purchase[0][3]["note"] == HOSTILE
    assert meta_purchase[0][3]["content_ids"] == [HOSTILE]
    assert meta_purchase[0][4] == {"eventID": f"order-{HOSTILE}"}
    tiktok = calls["ttq_instances"]["COQDA8RC77U2TMR44LI0"]
    assert tiktok[-1][:2] == ["track", "Purchase"] and tiktok[-1][2]["note"] == HOSTILE
    ga4 = [c for c in calls["dataLayer"] if c[:2] == ["event", "purchase"]]
    assert ga4[0][2]["transaction_id"] == HOSTILE
    # Every library the snippets inject carries the nonce.
    assert calls["injected"] and {s["nonce"] for s in calls["injected"]} == {NONCE}


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
    page = PageContext(page_type=PageType.THANK_YOU, event_slug="fest", currency="EUR",
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
        '"currency":"EUR","transaction_id":"A-1"});'
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
    assert 'gtag("event","page_view"' in head and 'gtag("event","view_item"' not in head
    assert 'ttq.instance("COQDA8RC77U2TMR44LI0").page()' not in head
    assert 'ttq.instance("COQDA8RC77U2TMR44LI0").track("ViewContent"' in head
    # Ads: view_item is wanted but has no label, so there is no conversion to fire.
    assert '"conversion"' not in head


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
    page = PageContext(page_type=page_type, event_slug="fest", order_id="A-1", value=10)
    head = render_snippets([code("meta", "111111111111111")], page=page)["head"]
    for name in expected:
        assert f'"111111111111111","{name}"' in head
    for name in absent:
        assert f'"{name}"' not in head


def test_thank_you_page_sends_purchase_with_value_currency_order_and_content_ids():
    page = PageContext(page_type=PageType.THANK_YOU, event_slug="fest", event_name="Fest",
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


def test_gtm_noscript_goes_in_body_and_each_container_gets_its_own_data_layer():
    codes = [code("gtm", "GTM-T37L75D"), code("gtm", "GTM-57VKP3XQ", source="marketplace")]
    html = render_snippets(codes, nonce=NONCE, page=EVENT_PAGE)

    body = parse(html["body"])
    assert [e.tag for e in body] == ["noscript", "iframe"] * 2
    assert "https://www.googletagmanager.com/ns.html?id=GTM-T37L75D" in html["body"]
    assert "https://www.googletagmanager.com/ns.html?id=GTM-57VKP3XQ" in html["body"]
    assert "ns.html" not in html["head"]
    layers = re.findall(
        r"\(window,document,'script',\"([^\"]+)\",\"(GTM-[A-Z0-9]+)\"\)", html["head"]
    )
    assert [c for _, c in layers] == ["GTM-T37L75D", "GTM-57VKP3XQ"]
    assert len({layer for layer, _ in layers}) == 2 and "dataLayer" not in {
        lay for lay, _ in layers
    }
    for layer, _ in layers:
        assert f'window["{layer}"].push({{"event":"view_item"' in html["head"]


# --- consent ---


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
    assert head.index("ttq.holdConsent();") < head.index("ttq.load(")
    # The banner's hook grants each of them.
    consent = parse(head)[-1].text
    assert "window.Usher.consent=function(choice)" in consent
    for grant in ("fbq('consent',c.ad_storage==='granted'?'grant':'revoke')",
                  "gtag('consent','update',c)", "ttq.grantConsent()", "('consent','update',c)"):  # fmt: skip
        assert grant in consent


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the scripts")
def test_the_consent_hook_grants_every_provider():
    html = render_snippets(every_provider(), nonce=NONCE, page=EVENT_PAGE)
    calls = run_in_node(html["head"], consent={"ad_storage": True, "analytics_storage": "granted"})

    assert calls["fbq"][0] == ["consent", "revoke"] and calls["fbq"][-1] == ["consent", "grant"]
    update = {"ad_storage": "granted", "analytics_storage": "granted",
              "ad_user_data": "denied", "ad_personalization": "denied"}  # fmt: skip
    assert ["consent", "update", update] in calls["dataLayer"]
    assert calls["ttq"][0] == ["holdConsent"] and calls["ttq"][-1] == ["grantConsent"]
    (gtm_layer,) = calls["gtm_layers"].values()
    assert gtm_layer[0][:2] == ["consent", "default"] and ["consent", "update", update] in gtm_layer


# --- running the scripts ---

NODE_HARNESS = r"""
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const injected = [];
const element = (tag) => ({tag, attrs: {}, setAttribute(k, v) { this.attrs[k] = v; }});
const sandbox = {
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
for (const script of input.scripts) vm.runInContext(script, sandbox);
if (input.consent) vm.runInContext('Usher.consent(' + JSON.stringify(input.consent) + ')', sandbox);
const list = (q) => Array.from(q || [], (e) => (typeof e === 'object' && e && e.length !== undefined ? Array.from(e) : e));
const ttq = sandbox.ttq || [];
const instances = {};
for (const id of Object.keys(ttq._i || {})) instances[id] = list(ttq._i[id]);
const layers = {};
for (const key of Object.keys(sandbox)) if (key.startsWith('usherDataLayer_')) layers[key] = list(sandbox[key]);
console.log(JSON.stringify({
  fbq: list(sandbox.fbq && sandbox.fbq.queue),
  dataLayer: list(sandbox.dataLayer),
  ttq: list(ttq),
  ttq_instances: instances,
  gtm_layers: layers,
  injected: injected.filter((e) => e.src).map((e) => ({src: e.src, nonce: e.attrs.nonce})),
}));
"""


def run_in_node(head_html: str, consent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the head's scripts in node with a minimal DOM and return the calls queued for
    each platform library (what the real library would replay)."""
    scripts = [e.text for e in parse(head_html) if e.tag == "script"]
    result = subprocess.run(
        ["node", "-e", NODE_HARNESS],
        input=json.dumps({"scripts": scripts, "consent": consent}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)
