"""tracker.js in headless Chromium, on the demo event and organizer pages served by the
live server.

The platforms' libraries are unreachable (and must never be called from tests), so every
request to their hosts is answered by a small local "recording stand-in": JavaScript
that takes over the page's `fbq` / `gtag` / GTM dataLayer / `ttq` stubs the way the real
library does (replaying the queued calls) and records, per pixel, what it was asked to
do in `window.__recorded`. Any other external host is aborted. So these tests prove what
the real libraries would have been told, and that nothing left the page before consent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from conftest import require_tool
from usher.events.models import TrackingEvent
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.tests.factories import (
    EventFactory,
    MarketplaceClientFactory,
    OrganizerFactory,
)
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _demo_pages_on(settings):
    """pytest-django turns DEBUG off, and with it the demo pages."""
    settings.USHER_DEMO_PAGES = True


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAIT_MS = 10_000

ORGANIZER_PIXEL = "111111111111111"
ORGANIZER_DEFAULT_PIXEL = "999999999999999"  # the organizer's default Meta pixel
MARKETPLACE_PIXEL = "222222222222222"
ORGANIZER_GA4 = "G-ORGTEST01"
MARKETPLACE_GA4 = "G-MKTTEST01"
ORGANIZER_TIKTOK = "CORGTIKTOKPIXEL00001"
MARKETPLACE_GTM = "GTM-MKT1234"
ORGANIZER_ADS = "AW-736702401"
ADS_PURCHASE_LABEL = "3hJnCKSw6KEBEMHfpN8C"

ALL_GRANTED = {
    "ad_storage": "granted",
    "analytics_storage": "granted",
    "ad_user_data": "granted",
    "ad_personalization": "granted",
}
ADS_WITHOUT_USER_DATA = {**ALL_GRANTED, "ad_user_data": "denied"}
# The demo's signed-in buyer (demo_views.DEMO_VISITOR), as Meta's init would carry it.
DEMO_BUYER_MATCHING = {
    "em": "buyer@example.com",
    "ph": "+40700000000",
    "external_id": "demo-buyer-1",
}

# --- the recording stand-ins ---

RECORDER_PRELUDE = """
var rec = window.__recorded = window.__recorded || {};
function slice(a) { return Array.prototype.slice.call(a); }
function copy(v) { return v === undefined ? v : JSON.parse(JSON.stringify(v)); }
function isArgs(v) { return Object.prototype.toString.call(v) === '[object Arguments]'; }
// What a Google library does with its dataLayer: read what is queued, then every push.
function recordDataLayer(dl, process) {
  dl.forEach(process);
  var push = dl.push;
  dl.push = function () {
    for (var i = 0; i < arguments.length; i++) process(arguments[i]);
    return push.apply(dl, arguments);
  };
}
"""

# fbevents.js: replays fbq.queue, then records every call; like the real library it
# ignores trackSingle for a pixel that was never initialised.
FBEVENTS_STAND_IN = (
    "(function () {"
    + RECORDER_PRELUDE
    + """
var meta = rec.meta = rec.meta || {loads: 0, calls: [], inits: [], initArgs: {}, events: [],
                                   untargeted: [], ignored: []};
meta.loads += 1;
var fbq = window.fbq;
if (fbq.__standIn) return;
fbq.__standIn = true;
var consent = 'grant';
function handle(args) {
  args = slice(args);
  meta.calls.push([args[0], args[1]]);
  if (args[0] === 'consent') consent = args[1];
  else if (args[0] === 'init') {
    if (meta.inits.indexOf(args[1]) === -1) meta.inits.push(args[1]);
    meta.initArgs[args[1]] = copy(args.slice(2)); // advanced matching, when given
  }
  else if (args[0] === 'trackSingle') {
    if (meta.inits.indexOf(args[1]) === -1) { meta.ignored.push(copy(args)); return; }
    meta.events.push({pixel: args[1], name: args[2], params: copy(args[3] || {}),
                      eventID: (args[4] || {}).eventID, consent: consent});
  } else if (args[0] === 'track' || args[0] === 'trackCustom') meta.untargeted.push(copy(args));
}
var queued = fbq.queue.slice();
fbq.queue = [];
fbq.callMethod = function () { handle(arguments); };
queued.forEach(handle);
})();"""
)

# gtag.js: processes `arguments` entries of dataLayer (as gtag does; arrays are ignored),
# resolves send_to groups to the configured ids and records each event per target.
GTAG_STAND_IN = (
    "(function () {"
    + RECORDER_PRELUDE
    + """
var g = rec.gtag = rec.gtag || {loads: 0, configs: [], events: [], consent: [], defaultsFirst: null};
g.loads += 1;
if (window.__gtagStandIn) return;
window.__gtagStandIn = true;
var dl = window.dataLayer = window.dataLayer || [];
var groups = {};
var state = {};
function process(entry) {
  if (!isArgs(entry)) return;
  var a = slice(entry);
  if (a[0] === 'consent') {
    if (g.defaultsFirst === null) g.defaultsFirst = a[1] === 'default';
    for (var k in a[2]) state[k] = a[2][k];
    g.consent.push([a[1], copy(a[2])]);
  } else if (a[0] === 'config') {
    if (g.defaultsFirst === null) g.defaultsFirst = false;
    var opts = a[2] || {};
    g.configs.push({id: a[1], options: copy(opts)});
    [].concat(opts.groups || 'default').forEach(function (name) {
      (groups[name] = groups[name] || []).push(a[1]);
    });
  } else if (a[0] === 'event') {
    var p = a[2] || {};
    var targets = [];
    [].concat(p.send_to || 'default').forEach(function (t) { targets = targets.concat(groups[t] || [t]); });
    g.events.push({name: a[1], params: copy(p), targets: targets, consent: copy(state)});
  }
}
recordDataLayer(dl, process);
})();"""
)

# gtm.js: one container per script (its id and dataLayer from the script's own URL).
GTM_STAND_IN = (
    "(function () {"
    + RECORDER_PRELUDE
    + """
var script = document.currentScript;
var url = new URL(script.src);
var id = url.searchParams.get('id'), layer = url.searchParams.get('l') || 'dataLayer';
var gtm = rec.gtm = rec.gtm || {};
var box = gtm[id] = {layer: layer, nonce: script.nonce, events: [], consent: []};
var dl = window[layer] = window[layer] || [];
function process(e) {
  if (isArgs(e)) { var a = slice(e); if (a[0] === 'consent') box.consent.push([a[1], copy(a[2])]); }
  else if (e && e.event && e.event !== 'gtm.js') box.events.push(copy(e));
}
recordDataLayer(dl, process);
})();"""
)

# events.js: replays the global queue and each pixel's instance queue, then records
# calls made through ttq and ttq.instance(id) directly.
TIKTOK_STAND_IN = (
    "(function () {"
    + RECORDER_PRELUDE
    + """
var tt = rec.tiktok = rec.tiktok || {loads: [], consent: [], pages: [], events: [], global: [],
                                     identify: [], state: null};
tt.loads.push(new URL(document.currentScript.src).searchParams.get('sdkid'));
var ttq = window.ttq;
function record(pixel, method, args) {
  if (/Consent$/.test(method)) { tt.consent.push(method); tt.state = method; }
  else if (pixel === '*') tt.global.push([method].concat(copy(args)));
  else if (method === 'page') tt.pages.push(pixel);
  else if (method === 'identify') tt.identify.push({pixel: pixel, data: copy(args[0])});
  else if (method === 'track') tt.events.push({pixel: pixel, name: args[0], props: copy(args[1] || {}),
                                               event_id: (args[2] || {}).event_id, consent: tt.state});
}
if (!ttq.__standIn) {
  ttq.__standIn = true;
  var queued = ttq.slice();
  ttq.length = 0;
  ttq.methods.forEach(function (m) { ttq[m] = function () { record('*', m, slice(arguments)); }; });
  queued.forEach(function (item) { record('*', item[0], item.slice(1)); });
  ttq.instance = function (id) {
    var pixel = {};
    ttq.methods.forEach(function (m) { pixel[m] = function () { record(id, m, slice(arguments)); }; });
    return pixel;
  };
}
var instances = ttq._i || {};
Object.keys(instances).forEach(function (id) {
  var q = instances[id];
  while (q.length) { var item = q.shift(); record(id, item[0], item.slice(1)); }
});
})();"""
)

PLATFORM_HOSTS = {
    "connect.facebook.net",
    "www.facebook.com",
    "www.googletagmanager.com",
    "analytics.tiktok.com",
}


@dataclass
class Network:
    """Answers every request of the page: the live server passes, platform libraries get
    their stand-ins, everything else is aborted; all of it is remembered."""

    origin: str
    external: list[str] = field(default_factory=list)
    collector: list[dict[str, Any]] = field(default_factory=list)
    collector_statuses: list[int] = field(default_factory=list)

    def handle(self, route: Route) -> None:
        request = route.request
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" == self.origin:
            if url.path == "/api/collect" and request.method == "POST":
                batch = json.loads(request.post_data or "{}")
                self.collector.extend(
                    {**event, "site_key": batch["site_key"]} for event in batch["events"]
                )
                response = route.fetch()
                self.collector_statuses.append(response.status)
                route.fulfill(response=response)
                return
            route.continue_()
            return
        self.external.append(request.url)
        host, path = url.hostname or "", url.path
        if host == "connect.facebook.net" and path.endswith("/fbevents.js"):
            route.fulfill(status=200, content_type="text/javascript", body=FBEVENTS_STAND_IN)
        elif host == "www.googletagmanager.com" and path == "/gtag/js":
            route.fulfill(status=200, content_type="text/javascript", body=GTAG_STAND_IN)
        elif host == "www.googletagmanager.com" and path == "/gtm.js":
            route.fulfill(status=200, content_type="text/javascript", body=GTM_STAND_IN)
        elif host == "analytics.tiktok.com" and path == "/i18n/pixel/events.js":
            route.fulfill(status=200, content_type="text/javascript", body=TIKTOK_STAND_IN)
        elif host == "www.facebook.com" and path.startswith("/tr"):
            route.fulfill(status=204, body="")
        else:
            route.abort()


@dataclass
class Browser:
    page: Page
    network: Network
    console: list[str]

    def recorded(self) -> dict[str, Any]:
        return self.page.evaluate("() => JSON.parse(JSON.stringify(window.__recorded || {}))")

    def wait_for(self, predicate_js: str) -> None:
        self.page.wait_for_function(predicate_js, timeout=WAIT_MS)

    def wait_for_collector_answers(self, count: int) -> None:
        """Until the collector answered `count` posts (the answer comes after the post)."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(self.network.collector_statuses) < count:
            assert time.monotonic() < deadline, "the collector did not answer"
            self.page.wait_for_timeout(50)

    def wait_for_collected(self, count: int) -> None:
        """Until `count` events were posted to the collector (route handlers run while
        Playwright waits, so the wait has to happen in Playwright)."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(self.network.collector) < count:
            assert time.monotonic() < deadline, f"{len(self.network.collector)} events collected"
            self.page.wait_for_timeout(50)

    def grant_consent(self) -> None:
        self.page.click("#consent-accept")

    def consent(self, choice: dict[str, str]) -> dict[str, str]:
        """What a consent banner does: one call to the page's `Usher.consent`."""
        return self.page.evaluate("(choice) => Usher.consent(choice)", choice)

    def assert_nothing_reached_a_platform(self) -> None:
        """No request to any platform host, nor anything in the page that could make one.

        Waits for the network to be idle first (no request for 500 ms: Playwright's
        condition, not a fixed pause); every request the page made has then passed
        through `Network.handle`. The DOM and the resource timings are checked as well,
        so a library that was injected but not yet requested would fail too.
        """
        self.page.wait_for_load_state("networkidle")
        assert [u for u in self.network.external if urlsplit(u).hostname in PLATFORM_HOSTS] == []
        assert self.network.external == []
        assert self.recorded() == {}
        urls = self.page.evaluate(
            """() => Array.from(document.querySelectorAll('script[src],img[src],iframe[src]'))
                      .map(e => e.src)
                      .concat(performance.getEntriesByType('resource').map(e => e.name))"""
        )
        assert not [u for u in urls if urlsplit(u).hostname in PLATFORM_HOSTS], urls


@contextmanager
def chromium(origin: str) -> Iterator[Browser]:
    """A fresh browser for one test; started after the test's data is written, because
    Django refuses ORM calls from a thread where Playwright's event loop runs."""
    require_tool(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            network = Network(origin=origin)
            context.route("**/*", network.handle)
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            yield Browser(page=page, network=network, console=console)
        finally:
            browser.close()


# --- data ---


@dataclass
class Demo:
    slug: str
    site_key: str
    organizer: str  # its external id
    content_id: str  # the event's, as pixels and catalogs name it


def create_codes(*, advanced_matching: bool = False) -> Demo:
    """An event page carrying codes at all three levels: the organizer's event-specific
    Meta pixel, its default GA4, TikTok and Google Ads codes, and the marketplace's own
    Meta pixel, GA4 property and GTM container. `advanced_matching` turns it on for the
    organizer's codes (Meta, TikTok, GA4)."""
    client = MarketplaceClientFactory(currency="RON")
    organizer = OrganizerFactory(client=client)
    event = EventFactory(organizer=organizer, client=client, slug="summer-fest", name="Summer Fest")
    # Another event's code must not show up on this page.
    other_event = EventFactory(organizer=organizer, client=client, slug="other-fest")

    def organizer_code(provider: str, settings: dict[str, Any], *, for_event=None) -> None:
        EventTrackingCode.objects.create(
            client=client, organizer=organizer, event=for_event, provider=provider,
            enabled=True, settings=settings,
        )  # fmt: skip

    def marketplace_code(provider: str, settings: dict[str, Any]) -> None:
        MarketplaceTrackingCode.objects.create(
            client=client, provider=provider, enabled=True, settings=settings
        )

    funnel = ["page_view", "view_item", "begin_checkout", "purchase"]  # no add_to_cart
    everything = [*funnel, "add_to_cart"]
    matching = {"advanced_matching": True} if advanced_matching else {}
    organizer_code(
        "meta",
        {"pixel_id": ORGANIZER_PIXEL, "conversion_events": funnel, **matching},
        for_event=event,
    )
    organizer_code("meta", {"pixel_id": ORGANIZER_DEFAULT_PIXEL, "conversion_events": everything})
    organizer_code("meta", {"pixel_id": "888888888888888", "conversion_events": everything},
                   for_event=other_event)  # fmt: skip
    organizer_code(
        "ga4", {"measurement_id": ORGANIZER_GA4, "conversion_events": everything, **matching}
    )
    organizer_code(
        "tiktok",
        {
            "pixel_code": ORGANIZER_TIKTOK,
            "conversion_events": everything,
            "custom_params": {"brand": "</script><script>alert(1)</script>"},
            **matching,
        },
    )
    organizer_code(
        "google_ads",
        {
            "conversion_id": ORGANIZER_ADS,
            "conversion_events": ["purchase"],
            "conversion_labels": {"purchase": ADS_PURCHASE_LABEL},
        },
    )
    marketplace_code("meta", {"pixel_id": MARKETPLACE_PIXEL, "conversion_events": everything})
    marketplace_code("ga4", {"measurement_id": MARKETPLACE_GA4, "conversion_events": everything})
    marketplace_code("gtm", {"container_id": MARKETPLACE_GTM, "conversion_events": everything})
    return Demo(
        slug=event.slug,
        site_key=client.site_key,
        organizer=organizer.external_id,
        content_id=event_content_id(event),
    )


def open_page(browser: Browser, url: str) -> None:
    browser.page.goto(url)
    assert browser.page.evaluate("() => Usher.ready()") is True, "tracking config not loaded"


def assert_meta_pixels_started_after_consent(
    recorded: dict[str, Any], *pixels: str
) -> dict[str, Any]:
    """One Meta base code; exactly these pixels initialised, after consent was revoked
    and then granted; every event addressed to one pixel. Returns Meta's recording."""
    meta = recorded["meta"]
    assert meta["loads"] == 1
    assert sorted(meta["inits"]) == sorted(pixels)
    calls = [tuple(call) for call in meta["calls"]]
    assert calls.index(("consent", "revoke")) < min(calls.index(("init", p)) for p in pixels)
    assert ("consent", "grant") in calls
    assert meta["untargeted"] == [] and meta["ignored"] == []
    return meta


def meta_events(recorded: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """pixel -> its one `name` event (fails if a pixel got it twice)."""
    found: dict[str, dict[str, Any]] = {}
    for event in recorded["meta"]["events"]:
        if event["name"] == name:
            assert event["pixel"] not in found, f"{event['pixel']} received {name} twice"
            found[event["pixel"]] = event
    return found


def gtag_events(recorded: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in recorded["gtag"]["events"]:
        if event["name"] == name:
            assert len(event["targets"]) == 1, f"{name} was not addressed to one code"
            assert event["targets"][0] not in found, f"{event['targets'][0]} got {name} twice"
            found[event["targets"][0]] = event
    return found


# --- tests ---


def test_nothing_reaches_a_platform_before_consent_then_every_code_gets_its_events(
    live_server,
):
    demo = create_codes()
    with chromium(live_server.url) as browser:
        open_page(browser, f"{live_server.url}/demo/events/{demo.slug}/")
        browser.assert_nothing_reached_a_platform()
        assert browser.network.collector == []
        assert browser.page.evaluate(
            "() => [typeof window.fbq, typeof window.gtag, typeof window.ttq]"
        ) == ["undefined", "undefined", "undefined"]
        assert "usher_vid" not in {c["name"] for c in browser.page.context.cookies()}

        browser.grant_consent()
        browser.wait_for(
            """() => {
              const r = window.__recorded || {};
              const meta = (r.meta && r.meta.events) || [], gtag = (r.gtag && r.gtag.events) || [];
              const tt = (r.tiktok && r.tiktok.events) || [], gtm = r.gtm || {};
              return meta.filter(e => e.name === 'ViewContent').length === 2
                && gtag.filter(e => e.name === 'view_item').length === 2
                && tt.some(e => e.name === 'ViewContent')
                && Object.values(gtm).some(c => c.events.some(e => e.event === 'view_item'));
            }"""
        )
        recorded = browser.recorded()

    # Meta: one base code, both pixels initialised once after consent was revoked, and
    # each gets ViewContent through trackSingle with one shared event id.
    assert_meta_pixels_started_after_consent(recorded, ORGANIZER_PIXEL, MARKETPLACE_PIXEL)
    view_content = meta_events(recorded, "ViewContent")
    assert set(view_content) == {ORGANIZER_PIXEL, MARKETPLACE_PIXEL}
    event_id = view_content[ORGANIZER_PIXEL]["eventID"]
    assert event_id and view_content[MARKETPLACE_PIXEL]["eventID"] == event_id
    for event in view_content.values():
        assert event["consent"] == "grant"
        assert event["params"]["content_ids"] == [demo.content_id]
        assert event["params"]["currency"] == "RON"
    page_view = meta_events(recorded, "PageView")
    assert set(page_view) == {ORGANIZER_PIXEL, MARKETPLACE_PIXEL}
    assert len({e["eventID"] for e in page_view.values()}) == 1
    assert page_view[ORGANIZER_PIXEL]["eventID"] != event_id

    # GA4: consent defaults before any config, one group per code, view_item to each.
    gtag = recorded["gtag"]
    assert gtag["loads"] == 1 and gtag["defaultsFirst"] is True
    assert gtag["consent"][0] == [
        "default",
        {**dict.fromkeys(ALL_GRANTED, "denied"), "wait_for_update": 500},
    ]
    assert sorted(c["id"] for c in gtag["configs"]) == [
        ORGANIZER_ADS,
        MARKETPLACE_GA4,
        ORGANIZER_GA4,
    ]
    assert len({c["options"]["groups"] for c in gtag["configs"]}) == 3
    view_item = gtag_events(recorded, "view_item")
    assert set(view_item) == {ORGANIZER_GA4, MARKETPLACE_GA4}
    for event in view_item.values():
        assert event["params"]["event_id"] == event_id
        assert event["consent"]["analytics_storage"] == "granted"
    # Google Ads gets only its purchase conversion, which this page does not fire.
    assert not [e for e in gtag["events"] if ORGANIZER_ADS in e["targets"][0]]

    # TikTok: held before load, granted after; ViewContent with the shared id.
    tiktok = recorded["tiktok"]
    assert tiktok["loads"] == [ORGANIZER_TIKTOK]
    assert tiktok["consent"][0] == "holdConsent" and "grantConsent" in tiktok["consent"]
    assert tiktok["global"] == [] and tiktok["pages"] == [ORGANIZER_TIKTOK]
    (tt_view,) = [e for e in tiktok["events"] if e["name"] == "ViewContent"]
    assert tt_view["pixel"] == ORGANIZER_TIKTOK and tt_view["event_id"] == event_id
    assert tt_view["props"]["brand"] == "</script><script>alert(1)</script>"

    # GTM: its own dataLayer, consent default then update, the nonce propagated.
    container = recorded["gtm"][MARKETPLACE_GTM]
    assert container["layer"] != "dataLayer" and container["nonce"]
    assert [c[0] for c in container["consent"]][:2] == ["default", "update"]
    (gtm_view,) = [e for e in container["events"] if e["event"] == "view_item"]
    assert gtm_view["event_id"] == event_id

    # Nothing but the platforms' libraries left the page; the CSP blocked nothing.
    assert {urlsplit(url).hostname for url in browser.network.external} <= PLATFORM_HOSTS
    assert not [m for m in browser.console if "Content Security Policy" in m]


def test_events_reach_the_collector_with_the_pixels_event_ids_and_a_visitor_id(live_server):
    demo = create_codes()
    url = f"{live_server.url}/demo/events/{demo.slug}/?utm_source=tiktok&ttclid=TT.click-1&fbclid=AbC_1"
    with chromium(live_server.url) as browser:
        open_page(browser, url)
        browser.grant_consent()
        browser.wait_for(
            "() => ((window.__recorded || {}).meta || {events: []}).events.length >= 4"
        )
        browser.wait_for_collected(2)
        browser.wait_for_collector_answers(1)
        recorded = browser.recorded()
        cookies = {c["name"]: c for c in browser.page.context.cookies()}
        stored = browser.page.evaluate(
            "() => JSON.parse(localStorage.getItem('usher_attribution'))"
        )

    view_content = meta_events(recorded, "ViewContent")[ORGANIZER_PIXEL]["eventID"]
    page_view = meta_events(recorded, "PageView")[ORGANIZER_PIXEL]["eventID"]
    posted = {p["name"]: p for p in browser.network.collector}
    assert len(browser.network.collector) == 2
    assert posted["view_item"]["event_id"] == view_content
    assert posted["page_view"]["event_id"] == page_view
    assert posted["view_item"]["value"] == 120 and posted["view_item"]["currency"] == "RON"
    visitor = cookies["usher_vid"]
    days = (visitor["expires"] - time.time()) / 86400
    assert 389 < days <= 390
    for payload in posted.values():
        assert payload["visitor_id"] == visitor["value"]
        assert payload["consent"] == dict.fromkeys(ALL_GRANTED, True)
        assert payload["site_key"] == demo.site_key and payload["event"] == demo.slug
        assert {k: v for k, v in payload["click"].items() if k != "clicked_at"} == {
            "ttclid": "TT.click-1",
            "fbclid": "AbC_1",
        }
        assert payload["click"]["clicked_at"].endswith("Z")
        assert payload["utm"] == {"source": "tiktok"}
    assert stored["click_ids"]["ttclid"]["value"] == "TT.click-1"
    # The collector accepted the batch and stored the events under the pixels' ids.
    assert browser.network.collector_statuses == [202]
    rows = TrackingEvent.objects.filter(event_id__in=[view_content, page_view])
    assert {(r.name, r.visitor_id) for r in rows} == {
        ("view_item", visitor["value"]),
        ("page_view", visitor["value"]),
    }
    assert stored["click_ids"]["ttclid"]["at"] > 0


def test_add_to_cart_reaches_only_the_codes_that_want_it_with_one_event_id(live_server):
    demo = create_codes()
    with chromium(live_server.url) as browser:
        open_page(browser, f"{live_server.url}/demo/events/{demo.slug}/")
        browser.grant_consent()
        browser.wait_for(
            "() => ((window.__recorded || {}).meta || {events: []}).events.length >= 4"
        )
        browser.page.click("#add-to-cart")
        # tracker.js hands one event to every pixel in one go; waiting for all of them
        # is enough to see a duplicate too.
        browser.wait_for(
            "() => window.__recorded.meta.events.some(e => e.name === 'AddToCart')"
            " && window.__recorded.tiktok.events.some(e => e.name === 'AddToCart')"
            " && window.__recorded.gtag.events.filter(e => e.name === 'add_to_cart').length === 2"
        )
        recorded = browser.recorded()

    add_to_cart = meta_events(recorded, "AddToCart")
    # The organizer's event pixel does not take add_to_cart; the marketplace's does.
    assert set(add_to_cart) == {MARKETPLACE_PIXEL}
    event_id = add_to_cart[MARKETPLACE_PIXEL]["eventID"]
    assert add_to_cart[MARKETPLACE_PIXEL]["params"]["value"] == 120
    ga4 = gtag_events(recorded, "add_to_cart")
    assert set(ga4) == {ORGANIZER_GA4, MARKETPLACE_GA4}
    assert {e["params"]["event_id"] for e in ga4.values()} == {event_id}
    (tt_cart,) = [e for e in recorded["tiktok"]["events"] if e["name"] == "AddToCart"]
    assert tt_cart["event_id"] == event_id


def test_thank_you_page_fires_purchase_with_the_order_derived_event_id(live_server):
    demo = create_codes()
    url = f"{live_server.url}/demo/events/{demo.slug}/?page=thank_you&order=A-1001"
    with chromium(live_server.url) as browser:
        open_page(browser, url)
        browser.grant_consent()
        browser.wait_for(
            "() => ((window.__recorded || {}).gtag || {events: []}).events"
            ".some(e => e.name === 'conversion')"
            " && window.__recorded.meta.events.filter(e => e.name === 'Purchase').length === 2"
        )
        recorded = browser.recorded()

    purchase = meta_events(recorded, "Purchase")
    assert set(purchase) == {ORGANIZER_PIXEL, MARKETPLACE_PIXEL}
    for event in purchase.values():
        assert event["eventID"] == "order-A-1001"
        assert event["params"]["value"] == 120 and event["params"]["currency"] == "RON"
        assert event["params"]["order_id"] == "A-1001"
        assert event["params"]["content_ids"] == [demo.content_id]
    assert not meta_events(recorded, "ViewContent")
    ga4 = gtag_events(recorded, "purchase")
    assert {e["params"]["transaction_id"] for e in ga4.values()} == {"A-1001"}
    (conversion,) = [e for e in recorded["gtag"]["events"] if e["name"] == "conversion"]
    assert conversion["params"]["send_to"] == f"{ORGANIZER_ADS}/{ADS_PURCHASE_LABEL}"
    assert conversion["params"]["transaction_id"] == "A-1001"
    (tt_purchase,) = [e for e in recorded["tiktok"]["events"] if e["name"] == "Purchase"]
    assert tt_purchase["event_id"] == "order-A-1001"


def test_rejecting_consent_keeps_every_platform_away(live_server):
    demo = create_codes()
    with chromium(live_server.url) as browser:
        open_page(browser, f"{live_server.url}/demo/events/{demo.slug}/?gclid=G-1")
        browser.page.click("#consent-reject")
        browser.wait_for_collected(2)
        browser.assert_nothing_reached_a_platform()
        cookies = {c["name"] for c in browser.page.context.cookies()}
        stored = browser.page.evaluate("() => localStorage.getItem('usher_attribution')")

    assert "usher_vid" not in cookies and stored is None
    # Usher still counts the events, without identifiers, under the visitor's choice.
    assert {p["name"] for p in browser.network.collector} == {"page_view", "view_item"}
    for payload in browser.network.collector:
        assert payload["consent"] == dict.fromkeys(ALL_GRANTED, False)
        assert "visitor_id" not in payload and payload["click"] == {} and payload["cookies"] == {}
        assert "gclid" not in payload["page_url"]


def test_server_rendered_snippets_send_nothing_before_consent_then_deliver_the_queued_events(
    live_server,
):
    demo = create_codes()
    with chromium(live_server.url) as browser:
        browser.page.goto(f"{live_server.url}/demo/events/{demo.slug}/?mode=server")
        browser.assert_nothing_reached_a_platform()
        # The stubs are there, holding consent; the ids are rendered into the page.
        assert browser.page.evaluate(
            "() => [typeof window.fbq, typeof window.gtag, typeof window.ttq.instance,"
            " typeof window.ttq.load, window.fbq.queue.length]"
        ) == ["function", "function", "function", "undefined", 1]
        rendered_ids = set(re.findall(r'"(?:eventID|event_id)":"([^"]+)"', browser.page.content()))

        returned = browser.consent(ALL_GRANTED)
        browser.wait_for(
            """() => {
              const r = window.__recorded || {};
              const meta = (r.meta && r.meta.events) || [], gtag = (r.gtag && r.gtag.events) || [];
              const tt = (r.tiktok && r.tiktok.events) || [], gtm = r.gtm || {};
              return meta.filter(e => e.name === 'ViewContent').length === 2
                && meta.filter(e => e.name === 'PageView').length === 2
                && gtag.filter(e => e.name === 'view_item').length === 2
                && tt.some(e => e.name === 'ViewContent')
                && Object.values(gtm).some(c => c.events.some(e => e.event === 'view_item'));
            }"""
        )
        recorded = browser.recorded()

    assert returned == ALL_GRANTED
    # Meta: fbevents.js once; both pixels initialised while revoked, then granted; each
    # gets PageView and ViewContent through trackSingle, after the grant.
    meta = recorded["meta"]
    assert meta["loads"] == 1
    assert sorted(meta["inits"]) == sorted([ORGANIZER_PIXEL, MARKETPLACE_PIXEL])
    calls = [tuple(call) for call in meta["calls"]]
    assert calls[0] == ("consent", "revoke")
    assert calls.index(("init", ORGANIZER_PIXEL)) < calls.index(("consent", "grant"))
    assert meta["untargeted"] == [] and meta["ignored"] == []
    assert {e["consent"] for e in meta["events"]} == {"grant"}
    view_content = meta_events(recorded, "ViewContent")
    assert set(view_content) == {ORGANIZER_PIXEL, MARKETPLACE_PIXEL}
    event_id = view_content[ORGANIZER_PIXEL]["eventID"]
    assert view_content[MARKETPLACE_PIXEL]["eventID"] == event_id
    page_view_id = meta_events(recorded, "PageView")[ORGANIZER_PIXEL]["eventID"]
    # The two ids rendered before consent, and no other, are the ones delivered.
    assert rendered_ids == {event_id, page_view_id}
    for event in view_content.values():
        assert event["params"]["content_ids"] == [demo.content_id]
        assert event["params"]["currency"] == "RON"

    # Google: defaults before any config, the update, then view_item to each GA4 group.
    gtag = recorded["gtag"]
    assert gtag["loads"] == 1 and gtag["defaultsFirst"] is True
    assert [c[0] for c in gtag["consent"]] == ["default", "update"]
    assert gtag["consent"][1] == ["update", ALL_GRANTED]
    assert sorted(c["id"] for c in gtag["configs"]) == [
        ORGANIZER_ADS,
        MARKETPLACE_GA4,
        ORGANIZER_GA4,
    ]
    view_item = gtag_events(recorded, "view_item")
    assert set(view_item) == {ORGANIZER_GA4, MARKETPLACE_GA4}
    for event in view_item.values():
        assert event["params"]["event_id"] == event_id
        assert event["consent"]["analytics_storage"] == "granted"

    # TikTok: held, loaded, granted; ViewContent with the shared id, after the grant.
    tiktok = recorded["tiktok"]
    assert tiktok["loads"] == [ORGANIZER_TIKTOK]
    assert tiktok["consent"] == ["holdConsent", "grantConsent"]
    assert tiktok["global"] == [] and tiktok["pages"] == [ORGANIZER_TIKTOK]
    (tt_view,) = [e for e in tiktok["events"] if e["name"] == "ViewContent"]
    assert tt_view["event_id"] == event_id and tt_view["consent"] == "grantConsent"
    assert tt_view["props"]["brand"] == "</script><script>alert(1)</script>"

    # GTM: its own dataLayer, default then update, the nonce propagated.
    container = recorded["gtm"][MARKETPLACE_GTM]
    assert container["layer"] != "dataLayer" and container["nonce"]
    assert [c[0] for c in container["consent"]] == ["default", "update"]
    (gtm_view,) = [e for e in container["events"] if e["event"] == "view_item"]
    assert gtm_view["event_id"] == event_id

    assert {urlsplit(url).hostname for url in browser.network.external} <= PLATFORM_HOSTS
    assert not [url for url in browser.network.external if "ns.html" in url]
    assert not [m for m in browser.console if "Content Security Policy" in m]


def test_server_rendered_page_sends_its_events_to_the_collector_with_the_pixels_ids(
    live_server,
):
    demo = create_codes()
    url = f"{live_server.url}/demo/events/{demo.slug}/?mode=server&fbclid=AbC_1"
    with chromium(live_server.url) as browser:
        browser.page.goto(url)
        browser.page.wait_for_function("() => window.Usher.events().length === 2")
        browser.assert_nothing_reached_a_platform()  # waits for the network to be idle
        assert browser.network.collector == []  # nothing before the visitor chose
        browser.consent(ALL_GRANTED)
        browser.wait_for(
            "() => ((window.__recorded || {}).meta || {events: []}).events.length >= 4"
        )
        browser.wait_for_collected(2)
        browser.wait_for_collector_answers(1)
        recorded = browser.recorded()
        visitor = {c["name"]: c for c in browser.page.context.cookies()}["usher_vid"]["value"]

    view_content = meta_events(recorded, "ViewContent")[ORGANIZER_PIXEL]["eventID"]
    page_view = meta_events(recorded, "PageView")[ORGANIZER_PIXEL]["eventID"]
    posted = {p["name"]: p for p in browser.network.collector}
    assert len(browser.network.collector) == 2
    assert (posted["view_item"]["event_id"], posted["page_view"]["event_id"]) == (
        view_content,
        page_view,
    )
    assert posted["view_item"]["value"] == 120 and posted["view_item"]["content_ids"] == [
        demo.content_id
    ]
    for payload in posted.values():
        assert payload["visitor_id"] == visitor and payload["event"] == demo.slug
        assert payload["consent"] == dict.fromkeys(ALL_GRANTED, True)
        assert payload["click"]["fbclid"] == "AbC_1"
    # tracker.js loaded no pixel of its own: each library once, each pixel fed once.
    assert recorded["meta"]["loads"] == 1
    assert len(meta_events(recorded, "ViewContent")) == 2
    assert browser.network.collector_statuses == [202]
    stored = TrackingEvent.objects.filter(event_id__in=[view_content, page_view])
    assert {(row.name, row.visitor_id) for row in stored} == {
        ("view_item", visitor),
        ("page_view", visitor),
    }


@pytest.mark.parametrize("mode", ["tracker", "server"])
@pytest.mark.parametrize(
    ("choice", "matched"),
    [(ADS_WITHOUT_USER_DATA, False), (ALL_GRANTED, True)],
    ids=["ad_user_data-denied", "all-granted"],
)
def test_advanced_matching_waits_for_ad_user_data(live_server, mode, choice, matched):
    """ad_storage loads the pixels; the buyer's email and phone need ad_user_data too."""
    demo = create_codes(advanced_matching=True)
    url = f"{live_server.url}/demo/events/{demo.slug}/?signed_in=1"
    with chromium(live_server.url) as browser:
        if mode == "server":
            browser.page.goto(f"{url}&mode=server")
        else:
            open_page(browser, url)
        browser.consent(choice)
        browser.wait_for(
            """() => {
              const r = window.__recorded || {};
              return r.meta && r.meta.events.filter(e => e.name === 'ViewContent').length === 2
                && r.tiktok && r.tiktok.events.some(e => e.name === 'ViewContent')
                && r.gtag && r.gtag.events.filter(e => e.name === 'view_item').length === 2;
            }"""
        )
        recorded = browser.recorded()

    init_args = recorded["meta"]["initArgs"]
    assert init_args[MARKETPLACE_PIXEL] == []  # its code does not ask for matching
    identify = recorded["tiktok"]["identify"]
    ga4_options = {c["id"]: c["options"] for c in recorded["gtag"]["configs"]}
    assert "user_data" not in ga4_options[MARKETPLACE_GA4]
    if matched:
        assert init_args[ORGANIZER_PIXEL] == [DEMO_BUYER_MATCHING]
        assert identify == [
            {
                "pixel": ORGANIZER_TIKTOK,
                "data": {
                    "email": "buyer@example.com",
                    "phone_number": "+40700000000",
                    "external_id": "demo-buyer-1",
                },
            }
        ]
        assert ga4_options[ORGANIZER_GA4]["user_data"] == {
            "email": "buyer@example.com",
            "phone_number": "+40700000000",
        }
    else:
        assert init_args[ORGANIZER_PIXEL] == []
        assert identify == []
        assert "user_data" not in ga4_options[ORGANIZER_GA4]
        assert "buyer@example.com" not in json.dumps(recorded)


def test_organizer_page_sends_page_view_to_its_defaults_and_the_marketplace_with_one_event_id(
    live_server,
):
    demo = create_codes()
    with chromium(live_server.url) as browser:
        open_page(browser, f"{live_server.url}/demo/organizers/{demo.organizer}/")
        browser.assert_nothing_reached_a_platform()
        assert browser.network.collector == []
        assert [e["name"] for e in browser.page.evaluate("() => Usher.events()")] == ["page_view"]

        browser.grant_consent()
        browser.wait_for(
            """() => {
              const r = window.__recorded || {};
              return r.meta && r.meta.events.filter(e => e.name === 'PageView').length === 2
                && r.gtag && r.gtag.events.filter(e => e.name === 'page_view').length === 2;
            }"""
        )
        browser.wait_for_collected(1)
        browser.wait_for_collector_answers(1)
        recorded = browser.recorded()

    # Meta: the organizer's default pixel (not its event-specific ones) and the
    # marketplace's, initialised after consent was revoked; PageView only, one event id.
    meta = assert_meta_pixels_started_after_consent(
        recorded, ORGANIZER_DEFAULT_PIXEL, MARKETPLACE_PIXEL
    )
    assert {e["name"] for e in meta["events"]} == {"PageView"}
    page_view = meta_events(recorded, "PageView")
    assert set(page_view) == {ORGANIZER_DEFAULT_PIXEL, MARKETPLACE_PIXEL}
    event_id = page_view[MARKETPLACE_PIXEL]["eventID"]
    assert event_id and page_view[ORGANIZER_DEFAULT_PIXEL]["eventID"] == event_id
    assert {e["consent"] for e in page_view.values()} == {"grant"}
    # GA4 as well: the organizer's default property and the marketplace's, the same id.
    ga4 = gtag_events(recorded, "page_view")
    assert set(ga4) == {ORGANIZER_GA4, MARKETPLACE_GA4}
    assert {e["params"]["event_id"] for e in ga4.values()} == {event_id}
    assert {e["name"] for e in recorded["gtag"]["events"]} == {"page_view"}

    # The collector got the page view under the organizer, with the pixels' id, and took it.
    (posted,) = browser.network.collector
    assert posted["name"] == "page_view" and posted["event_id"] == event_id
    assert posted["organizer"] == demo.organizer and "event" not in posted
    assert posted["site_key"] == demo.site_key
    assert browser.network.collector_statuses == [202]
    row = TrackingEvent.objects.select_related("organizer").get(event_id=event_id)
    assert row.marketplace_event_id is None and row.organizer.external_id == demo.organizer

    assert {urlsplit(url).hostname for url in browser.network.external} <= PLATFORM_HOSTS
    assert not [m for m in browser.console if "Content Security Policy" in m or "[usher]" in m]


def test_a_page_of_no_event_and_no_organizer_carries_only_the_marketplaces_codes(live_server):
    """A home or search page: the marketplace's own pixels (after consent) and the
    collector, which sends the page view on to the marketplace's server-side accounts."""
    demo = create_codes()
    url = f"{live_server.url}/a-marketplace-home-page/"
    html = (
        '<!doctype html><script src="/static/usher/tracker.js"></script>'
        f"<script>Usher.init({{client: {json.dumps(demo.site_key)}}});</script>"
    )
    with chromium(live_server.url) as browser:
        browser.page.route(url, lambda route: route.fulfill(content_type="text/html", body=html))
        browser.page.goto(url)
        assert browser.page.evaluate("() => Usher.ready()") is True
        browser.assert_nothing_reached_a_platform()
        assert browser.network.collector == []

        browser.consent(ALL_GRANTED)
        browser.wait_for(
            "() => ((window.__recorded || {}).meta || {events: []}).events.length >= 1"
        )
        browser.wait_for_collected(1)
        browser.wait_for_collector_answers(1)
        recorded = browser.recorded()
        requested = browser.page.evaluate(
            "() => performance.getEntriesByType('resource').map(e => e.name)"
        )

    assert [u for u in requested if "/api/marketplace-client/tracking-config?" in u]
    assert recorded["meta"]["inits"] == [MARKETPLACE_PIXEL]  # no organizer's pixel
    page_view = meta_events(recorded, "PageView")
    (posted,) = browser.network.collector
    assert posted["name"] == "page_view" and posted["site_key"] == demo.site_key
    assert page_view[MARKETPLACE_PIXEL]["eventID"] == posted["event_id"]
    assert "event" not in posted and "organizer" not in posted
    assert browser.network.collector_statuses == [202]
    row = TrackingEvent.objects.get(event_id=posted["event_id"])
    assert row.marketplace_event_id is None and row.organizer_id is None


# --- the demo page itself (no browser needed) ---


def test_demo_pages_are_off_unless_enabled(client, settings):
    demo = create_codes()
    settings.USHER_DEMO_PAGES = False
    assert client.get(f"/demo/events/{demo.slug}/").status_code == 404
    assert client.get(f"/demo/organizers/{demo.organizer}/").status_code == 404


def test_demo_page_sends_a_nonce_csp_and_escapes_what_the_url_says(client):
    demo = create_codes()
    hostile = "</script><script>alert(1)</script>"
    response = client.get(f"/demo/events/{demo.slug}/", {"page": "thank_you", "order": hostile})

    html = response.content.decode()
    nonce = re.search(
        r"script-src 'nonce-([^']+)' 'strict-dynamic'", response["Content-Security-Policy"]
    )
    assert nonce is not None
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in s for s in scripts if "json" not in s)
    assert hostile not in html
    assert response["Cache-Control"] == "no-store"


def test_demo_organizer_page_carries_its_defaults_under_a_nonce_csp(client):
    demo = create_codes()
    assert client.get("/demo/organizers/no-such-organizer/").status_code == 404
    response = client.get(f"/demo/organizers/{demo.organizer}/")

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    nonce = re.search(
        r"script-src 'nonce-([^']+)' 'strict-dynamic'", response["Content-Security-Policy"]
    )
    assert nonce is not None
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in s for s in scripts if "json" not in s)
    options = json.loads(re.search(r'id="usher-options"[^>]*>([^<]*)<', html).group(1))
    assert options == {
        "client": demo.site_key,
        "organizer": demo.organizer,
        "pageType": "organizer",
        "nonce": nonce.group(1),
    }
    # The codes table: the organizer's defaults and the marketplace's, no event's code.
    assert ORGANIZER_DEFAULT_PIXEL in html and MARKETPLACE_PIXEL in html
    assert ORGANIZER_PIXEL not in html and "888888888888888" not in html
    assert f'href="/demo/events/{demo.slug}/?client=' in html
