"""Staff admin: client scoping, filters, write-only credentials, service validation."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from usher.marketplace.models import User
from usher.marketplace.tests.factories import OrganizerFactory
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.tests.factories import EventTrackingCodeFactory, MarketplaceTrackingCodeFactory

pytestmark = pytest.mark.django_db

TOKEN = "EAAB-admin-secret-token-98765"
CODES = "/admin/tracking/eventtrackingcode/"
OWN = "/admin/tracking/marketplacetrackingcode/"


@pytest.fixture
def staff(marketplace) -> Client:
    user = User.objects.create_user("staff", password="x", client=marketplace, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="tracking"))
    browser = Client()
    browser.force_login(user)
    return browser


def _form(organizer, **extra) -> dict:
    return {
        "organizer": organizer.pk,
        "event": "",
        "provider": "meta",
        "enabled": "on",
        "tag_id": "557085890510243",
        "conversion_events": ["page_view", "purchase"],
        "access_token": "",
        "api_secret": "",
        **extra,
    }


def test_staff_see_all_codes_of_their_client_only(staff, organizer):
    mine = EventTrackingCodeFactory(organizer=organizer)
    colleague = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    foreign = EventTrackingCodeFactory()
    page = staff.get(CODES).content.decode()
    assert mine.tag_id in page and colleague.tag_id in page
    assert foreign.tag_id not in page
    assert staff.get(f"{CODES}{foreign.pk}/change/").status_code in (302, 404)


def test_the_list_filters_by_provider_organizer_event_and_enabled(staff, organizer, event):
    meta = EventTrackingCodeFactory(organizer=organizer, event=event)
    ga4 = EventTrackingCodeFactory(
        organizer=OrganizerFactory(client=organizer.client),
        provider="ga4",
        settings={"measurement_id": "G-PSW1MY7HB4"},
    )
    page = staff.get(CODES).content.decode()
    for query in ("provider__exact", "enabled__exact", "organizer__id__exact", "event__id__exact"):
        assert query in page
    filtered = staff.get(CODES, {"provider__exact": "ga4"}).content.decode()
    assert ga4.tag_id in filtered and meta.tag_id not in filtered
    by_organizer = staff.get(CODES, {"organizer__id__exact": organizer.pk}).content.decode()
    assert meta.tag_id in by_organizer and ga4.tag_id not in by_organizer


def test_the_token_is_write_only_in_the_admin(staff, organizer):
    response = staff.post(f"{CODES}add/", _form(organizer, access_token=TOKEN))
    assert response.status_code == 302, response.content.decode()[:2000]
    code = EventTrackingCode.objects.get()
    assert code.get_secret("access_token") == TOKEN and "access_token" not in code.settings
    listing = staff.get(CODES).content.decode()
    change = staff.get(f"{CODES}{code.pk}/change/").content.decode()
    assert TOKEN not in listing and TOKEN not in change
    assert code.access_token_encrypted not in change
    assert ">yes<" in listing
    # Saving with the field empty keeps the token.
    staff.post(f"{CODES}{code.pk}/change/", _form(organizer, enabled=""))
    code.refresh_from_db()
    assert not code.enabled and code.get_secret("access_token") == TOKEN
    # The remove box removes it.
    staff.post(f"{CODES}{code.pk}/change/", _form(organizer, clear_access_token="on"))
    code.refresh_from_db()
    assert not code.has_access_token
    assert ">no<" in staff.get(CODES).content.decode()


def test_a_google_ads_code_takes_a_write_only_refresh_token_in_the_admin(staff, organizer):
    refresh_token = "1//0g-admin-refresh-token"
    ads = {
        "tag_id": "AW-736702401",
        "customer_id": "123-456-7890",
        "label_purchase": "3hJnCKSw6KEBEMHfpN8C",
        "action_purchase": "111",
    }
    response = staff.post(
        f"{CODES}add/",
        _form(organizer, provider="google_ads", refresh_token=refresh_token, **ads),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    code = EventTrackingCode.objects.get()
    assert code.get_secret("refresh_token") == refresh_token and code.has_credential
    assert code.settings["customer_id"] == "1234567890"
    assert code.settings["conversion_labels"] == {"purchase": "3hJnCKSw6KEBEMHfpN8C"}
    assert code.settings["conversion_actions"] == {"purchase": "111"}
    assert refresh_token not in staff.get(f"{CODES}{code.pk}/change/").content.decode()
    assert ">yes<" in staff.get(CODES).content.decode()


def test_staff_edit_settings_with_the_panels_fields_not_raw_json(staff, organizer):
    code = EventTrackingCodeFactory(organizer=organizer)
    code.settings = {**code.settings, "custom_params": {"team": "blue"}, "test_event_code": ""}
    code.save()

    page = staff.get(f"{CODES}{code.pk}/change/").content.decode()
    assert 'name="settings"' not in page
    assert f'name="tag_id" value="{code.tag_id}"' in page
    assert 'name="test_event_code"' in page and 'name="action_purchase"' in page

    response = staff.post(
        f"{CODES}{code.pk}/change/",
        _form(organizer, tag_id=code.tag_id, test_event_code="TEST42", advanced_matching="on"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    code.refresh_from_db()
    assert code.settings["test_event_code"] == "TEST42" and code.settings["advanced_matching"]
    assert code.settings["conversion_events"] == ["page_view", "purchase"]
    assert code.settings["custom_params"] == {"team": "blue"}  # not on the form: kept


def test_the_admin_validates_like_the_api(staff, organizer):
    response = staff.post(f"{CODES}add/", _form(organizer, tag_id="123"))
    assert response.status_code == 200
    assert "Pixel ID must look like" in response.content.decode()
    EventTrackingCodeFactory(organizer=organizer)
    duplicate = staff.post(f"{CODES}add/", _form(organizer))
    assert duplicate.status_code == 200
    assert "already has a default" in duplicate.content.decode()
    assert EventTrackingCode.objects.count() == 1


def test_staff_manage_the_marketplaces_own_codes(staff, marketplace):
    response = staff.post(
        f"{OWN}add/",
        {
            "client": marketplace.pk,
            "name": "Our GA4",
            "provider": "ga4",
            "enabled": "on",
            "tag_id": "g-psw1my7hb4",
            "api_secret": "GA4-ADMIN-SECRET",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    own = MarketplaceTrackingCode.objects.get()
    assert own.settings["measurement_id"] == "G-PSW1MY7HB4"
    assert own.get_secret("api_secret") == "GA4-ADMIN-SECRET"
    listing = staff.get(OWN).content.decode()
    assert "Our GA4" in listing and "GA4-ADMIN-SECRET" not in listing
    assert "GA4-ADMIN-SECRET" not in staff.get(f"{OWN}{own.pk}/change/").content.decode()
    MarketplaceTrackingCodeFactory(name="Foreign marketplace code")
    assert "Foreign marketplace code" not in staff.get(OWN).content.decode()


def test_organizer_users_cannot_reach_the_admin(organizer):
    user = User.objects.create_user(
        "org", password="x", client=organizer.client, organizer=organizer
    )
    browser = Client()
    browser.force_login(user)
    assert browser.get(OWN).status_code == 302  # to the admin login


@pytest.mark.parametrize("page", [CODES, OWN])
def test_the_add_pages_open_before_a_provider_is_chosen(staff, page):
    response = staff.get(f"{page}add/")

    assert response.status_code == 200
    assert b'name="provider"' in response.content
