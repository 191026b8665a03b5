"""Which scenario creative an ad stands for, from what the platforms store of it."""

from __future__ import annotations

from usher.sandbox.market.objects import _google_ad_creative, _meta_creative, _tiktok_creative
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


def test_a_meta_ad_is_the_creative_its_headline_or_text_names_when_its_names_do_not() -> None:
    # Usher names a Meta ad and its creative by id; only the link ad's copy tells them apart.
    meta = scenario(segment("meta", creatives=CREATIVES)).segments[0]
    state = SandboxState()

    def ad_showing(creative_id: str, link_data: dict[str, str]) -> dict[str, object]:
        state.put_object("meta", creative_id, {
            "id": creative_id, "type": "adcreative", "account": "1",
            "fields": {
                "name": f"usher-c-7 creative {creative_id}",
                "object_story_spec": {"page_id": "9", "link_data": link_data},
            },
        })  # fmt: skip
        return {"name": f"usher-c-7 ad {creative_id}", "creative": {"id": creative_id}}

    by_headline = ad_showing(
        "11", {"link": "https://tickets.example/e/1", "name": "backstage clip · Rock Night"}
    )
    by_text = ad_showing("12", {"link": "https://x.example/", "message": "a backstage clip"})
    neither = ad_showing("13", {"link": "https://x.example/", "name": "Rock Night"})
    assert _meta_creative(state, by_headline, meta) == (1, "https://tickets.example/e/1")
    assert _meta_creative(state, by_text, meta)[0] == 1
    assert _meta_creative(state, neither, meta)[0] == 0  # the first
