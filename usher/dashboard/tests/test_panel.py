"""The organizer panel: login, own codes only, the form (validation shared with the API),
write-only credentials, delete, and 404s for other organizers' codes."""

from __future__ import annotations

import pytest
from django.test import Client

from usher.marketplace.models import User
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.tracking.models import EventTrackingCode
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

LIST = "/panel/tracking-codes/"
NEW = "/panel/tracking-codes/new/"
TOKEN = "EAAB-panel-secret-token-4242"


@pytest.fixture
def event(organizer):
    return EventFactory(organizer=organizer, client=organizer.client, name="Summer Fest")


@pytest.fixture
def panel(organizer) -> Client:
    user = User.objects.create_user(
        "org", password="pw-12345-x", client=organizer.client, organizer=organizer
    )
    browser = Client()
    browser.force_login(user)
    return browser


def _form(**extra) -> dict:
    return {
        "provider": "meta",
        "tag_id": "557085890510243",
        "event": "",
        "enabled": "on",
        "conversion_events": ["page_view", "purchase"],
        **extra,
    }


def test_the_panel_needs_a_login_and_an_organizer_account(marketplace, organizer):
    anonymous = Client().get(LIST)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    staff = User.objects.create_user("staff", password="x", client=marketplace, is_staff=True)
    browser = Client()
    browser.force_login(staff)
    assert browser.get(LIST).status_code == 403


def test_an_organizer_logs_in_through_the_login_page(organizer):
    User.objects.create_user(
        "org", password="pw-12345-x", client=organizer.client, organizer=organizer
    )
    browser = Client()
    assert browser.get("/accounts/login/").status_code == 200
    response = browser.post(
        "/accounts/login/", {"username": "org", "password": "pw-12345-x"}, follow=True
    )
    assert response.redirect_chain == [("/panel/", 302)]  # the overview
    assert response.status_code == 200


def test_the_list_shows_only_own_codes_with_filters(panel, organizer, event):
    default = EventTrackingCodeFactory(organizer=organizer)
    ga4 = EventTrackingCodeFactory(
        organizer=organizer,
        event=event,
        provider="ga4",
        settings={"measurement_id": "G-PSW1MY7HB4"},
    )
    foreign = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    page = panel.get(LIST).content.decode()
    assert default.tag_id in page and "G-PSW1MY7HB4" in page and "Summer Fest" in page
    assert foreign.tag_id not in page
    by_provider = panel.get(LIST, {"provider": "ga4"}).content.decode()
    assert "G-PSW1MY7HB4" in by_provider and default.tag_id not in by_provider
    by_event = panel.get(LIST, {"event": event.pk}).content.decode()
    assert "G-PSW1MY7HB4" in by_event and default.tag_id not in by_event
    defaults = panel.get(LIST, {"event": "default"}).content.decode()
    assert default.tag_id in defaults and "G-PSW1MY7HB4" not in defaults
    assert ga4.pk


def test_the_form_offers_only_own_events_and_a_help_box_per_provider(panel, organizer, event):
    foreign_event = EventFactory(
        organizer=OrganizerFactory(client=organizer.client), name="Not Mine"
    )
    page = panel.get(NEW).content.decode()
    assert "Summer Fest" in page and foreign_event.name not in page
    for where in (
        "Events Manager",
        "Data streams",
        "Tag Manager",
        "Tag setup",
        "TikTok Ads Manager",
    ):
        assert where in page


def test_an_organizer_creates_a_code_with_a_write_only_token(panel, organizer, event):
    response = panel.post(NEW, _form(event=event.pk, access_token=TOKEN, advanced_matching="on"))
    assert response.status_code == 302
    code = EventTrackingCode.objects.get()
    assert code.organizer == organizer and code.event == event
    assert code.settings["conversion_events"] == ["page_view", "purchase"]
    assert code.settings["advanced_matching"] is True
    assert code.get_secret("access_token") == TOKEN
    edit = panel.get(f"/panel/tracking-codes/{code.pk}/").content.decode()
    assert TOKEN not in edit and "557085890510243" in edit
    assert TOKEN not in panel.get(LIST).content.decode()
    # Saving again with the token field empty keeps it.
    panel.post(
        f"/panel/tracking-codes/{code.pk}/", _form(event=event.pk, tag_id="1994206721399887")
    )
    code.refresh_from_db()
    assert code.tag_id == "1994206721399887" and code.get_secret("access_token") == TOKEN


def test_the_form_shows_the_apis_validation_errors_on_the_fields(panel):
    response = panel.post(NEW, _form(tag_id="12345"))
    assert response.status_code == 200
    assert "Pixel ID must look like" in response.content.decode()
    ads = panel.post(NEW, _form(provider="google_ads", tag_id="AW-736702401", label_purchase="bad"))
    assert "not a valid conversion label" in ads.content.decode()
    assert EventTrackingCode.objects.count() == 0


def test_a_google_ads_code_takes_labels_and_customer_id(panel):
    response = panel.post(
        NEW,
        _form(
            provider="google_ads",
            tag_id="aw-736702401",
            label_purchase="3hJnCKSw6KEBEMHfpN8C",
            customer_id="123-456-7890",
            refresh_token="1//ads-refresh-token",
        ),
    )
    assert response.status_code == 302
    code = EventTrackingCode.objects.get()
    assert code.settings["conversion_id"] == "AW-736702401"
    assert code.settings["conversion_labels"] == {"purchase": "3hJnCKSw6KEBEMHfpN8C"}
    assert code.settings["customer_id"] == "1234567890"
    assert code.get_secret("refresh_token") == "1//ads-refresh-token"
    edit = panel.get(f"/panel/tracking-codes/{code.pk}/").content.decode()
    assert "OAuth refresh token" in edit and "1//ads-refresh-token" not in edit
    assert "Server-side credential: <strong>set</strong>" in edit


def test_a_duplicate_is_explained_on_the_form(panel, organizer):
    existing = EventTrackingCodeFactory(organizer=organizer)
    response = panel.post(NEW, _form())
    assert response.status_code == 200
    assert f"Edit code #{existing.pk}" in response.content.decode()


def test_editing_keeps_settings_the_form_does_not_show(panel, organizer):
    code = EventTrackingCodeFactory(organizer=organizer)
    code.settings = {**code.settings, "custom_params": {"brand": "sunwave"}}
    code.save()
    panel.post(f"/panel/tracking-codes/{code.pk}/", _form())
    code.refresh_from_db()
    assert code.settings["custom_params"] == {"brand": "sunwave"}


def test_an_organizer_deletes_a_code(panel, organizer):
    code = EventTrackingCodeFactory(organizer=organizer)
    url = f"/panel/tracking-codes/{code.pk}/delete/"
    assert panel.get(url).status_code == 200
    assert panel.post(url).status_code == 302
    assert not EventTrackingCode.objects.filter(pk=code.pk).exists()


def test_another_organizers_code_is_a_404(panel, organizer):
    foreign = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    assert panel.get(f"/panel/tracking-codes/{foreign.pk}/").status_code == 404
    assert panel.post(f"/panel/tracking-codes/{foreign.pk}/", _form()).status_code == 404
    assert panel.post(f"/panel/tracking-codes/{foreign.pk}/delete/").status_code == 404
    assert EventTrackingCode.objects.filter(pk=foreign.pk).exists()


def test_another_organizers_event_cannot_be_chosen(panel, organizer):
    foreign_event = EventFactory(organizer=OrganizerFactory(client=organizer.client))
    response = panel.post(NEW, _form(event=foreign_event.pk))
    assert response.status_code == 200 and EventTrackingCode.objects.count() == 0


def test_a_suspended_organizer_cannot_use_the_panel(panel, organizer):
    organizer.status = "suspended"
    organizer.save()
    assert panel.get("/panel/tracking-codes/").status_code == 403
    assert panel.get("/panel/tracking-codes/?event=²").status_code == 403


def test_odd_event_filters_show_every_code_rather_than_fail(panel, organizer, event):
    default = EventTrackingCodeFactory(organizer=organizer)
    on_event = EventTrackingCodeFactory(
        organizer=organizer, event=event, provider="ga4", settings={"measurement_id": "G-ODD1"}
    )
    foreign = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    for value in ["²", "9" * 5000, "99999999999999999999999"]:
        response = panel.get(LIST, {"event": value})
        page = response.content.decode()
        assert response.status_code == 200
        assert default.tag_id in page and on_event.tag_id in page, value
        assert foreign.tag_id not in page
