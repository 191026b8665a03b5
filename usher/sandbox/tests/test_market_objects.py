"""Which scenario creative an ad stands for, from what the platforms store of it."""

from __future__ import annotations

from usher.sandbox.market.objects import _google_ad_creative, _tiktok_creative
from usher.sandbox.state import SandboxState
from usher.sandbox.tests.market_helpers import scenario, segment

CREATIVES = [
    {"name": "teaser", "performance": 0.7},
    {"name": "backstage clip", "performance": 1.4},
]


def test_a_tiktok_ad_is_the_creative_its_text_names_when_its_name_does_not() -> None:
    tiktok = scenario(segment("tiktok", creatives=CREATIVES)).segments[0]
    fields = {
        "ad_name": "usher-c-7 ad usher-cr-12",
        "ad_text": "backstage clip: tickets on sale",
        "landing_page_url": "https://tickets.example/e/1",
    }
    assert _tiktok_creative(SandboxState(), fields, tiktok) == (1, "https://tickets.example/e/1")
    assert _tiktok_creative(SandboxState(), {"ad_name": "x"}, tiktok)[0] == 0  # the first


def test_a_google_ad_is_the_creative_a_headline_names_when_its_name_does_not() -> None:
    google = scenario(segment("google_ads", creatives=CREATIVES)).segments[0]
    ad = {
        "name": "usher-c-7 ad usher-cr-12",
        "responsive_search_ad": {
            "headlines": [{"text": "backstage clip · Rock Night"}, {"text": "Official Tickets"}]
        },
    }
    assert _google_ad_creative(google, ad, {"name": "usher-c-7 ad group"}) == 1
    assert _google_ad_creative(google, {"name": "usher-c-7 ad"}, {}) == 0
