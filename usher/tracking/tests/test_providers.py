"""Per-provider settings validation: ids, events, labels, params and credentials."""

from __future__ import annotations

import pytest

from usher.events.names import StandardEvent
from usher.lib.errors import InvalidInput
from usher.tracking.providers import (
    CUSTOM_PARAMS_MAX_COUNT,
    SPECS,
    clean_settings,
)
from usher.tracking.resolved import Provider


def _loc(provider: str, settings: dict) -> list:
    with pytest.raises(InvalidInput) as caught:
        clean_settings(provider, settings)
    return caught.value.loc


def test_every_provider_has_a_spec_with_help_text():
    assert set(SPECS) == set(Provider.values)
    assert all(spec.help_text and spec.id_format for spec in SPECS.values())


@pytest.mark.parametrize(
    ("provider", "field", "good", "normalized"),
    [
        ("meta", "pixel_id", " 557085890510243 ", "557085890510243"),
        ("meta", "pixel_id", "1994206721399887", "1994206721399887"),
        ("ga4", "measurement_id", " g-psw1my7hb4 ", "G-PSW1MY7HB4"),
        ("gtm", "container_id", "gtm-t37l75d", "GTM-T37L75D"),
        ("google_ads", "conversion_id", "aw-736702401", "AW-736702401"),
        ("tiktok", "pixel_code", "coqda8rc77u2tmr44li0", "COQDA8RC77U2TMR44LI0"),
    ],
)
def test_it_accepts_and_normalizes_valid_ids(provider, field, good, normalized):
    assert clean_settings(provider, {field: good}).settings[field] == normalized


@pytest.mark.parametrize(
    ("provider", "field", "bad"),
    [
        ("meta", "pixel_id", "12345"),
        ("meta", "pixel_id", "55708589051024a"),
        ("meta", "pixel_id", "12345678901234567"),
        ("ga4", "measurement_id", "UA-12345-1"),
        ("ga4", "measurement_id", "G-12"),
        ("gtm", "container_id", "GTM-12"),
        ("gtm", "container_id", "G-T37L75D"),
        ("google_ads", "conversion_id", "AW-12ab5678"),
        ("google_ads", "conversion_id", "736702401"),
        ("tiktok", "pixel_code", "COQDA8RC77U2TMR44LI"),
        ("tiktok", "pixel_code", "COQDA8RC77U2TMR44LI0!"),
        ("meta", "pixel_id", "<script>alert(1)</script>"),
    ],
)
def test_it_rejects_a_malformed_id_naming_the_field(provider, field, bad):
    assert _loc(provider, {field: bad}) == ["body", "settings", field]


@pytest.mark.parametrize("provider", Provider.values)
def test_the_id_is_required(provider):
    assert _loc(provider, {}) == ["body", "settings", SPECS[provider].id_field]


def test_conversion_events_default_to_all_standard_events_in_canonical_order():
    assert clean_settings("meta", {"pixel_id": "557085890510243"}).settings[
        "conversion_events"
    ] == list(StandardEvent.values)
    cleaned = clean_settings(
        "meta",
        {"pixel_id": "557085890510243", "conversion_events": ["purchase", "page_view", "purchase"]},
    )
    assert cleaned.settings["conversion_events"] == ["page_view", "purchase"]


def test_an_unknown_event_name_is_rejected_naming_it():
    with pytest.raises(InvalidInput) as caught:
        clean_settings("meta", {"pixel_id": "557085890510243", "conversion_events": ["lead"]})
    assert caught.value.loc == ["body", "settings", "conversion_events"]
    assert "'lead'" in caught.value.message


def test_google_ads_conversion_labels_are_validated_per_event():
    good = clean_settings(
        "google_ads",
        {
            "conversion_id": "AW-736702401",
            "conversion_labels": {"purchase": "3hJnCKSw6KEBEMHfpN8C"},
        },
    )
    assert good.settings["conversion_labels"] == {"purchase": "3hJnCKSw6KEBEMHfpN8C"}
    assert _loc(
        "google_ads", {"conversion_id": "AW-736702401", "conversion_labels": {"purchase": "short"}}
    ) == ["body", "settings", "conversion_labels", "purchase"]
    assert _loc(
        "google_ads",
        {"conversion_id": "AW-736702401", "conversion_labels": {"signup": "3hJnCKSw6KEBEMHfpN8C"}},
    ) == ["body", "settings", "conversion_labels", "signup"]


def test_google_ads_customer_id_is_stored_without_dashes():
    cleaned = clean_settings(
        "google_ads", {"conversion_id": "AW-736702401", "customer_id": "123-456-7890"}
    )
    assert cleaned.settings["customer_id"] == "1234567890"
    assert _loc("google_ads", {"conversion_id": "AW-736702401", "customer_id": "12-34"}) == [
        "body",
        "settings",
        "customer_id",
    ]


def test_conversion_labels_belong_to_google_ads_only():
    assert _loc(
        "meta", {"pixel_id": "557085890510243", "conversion_labels": {"purchase": "3hJnCKSw6KEB"}}
    ) == ["body", "settings", "conversion_labels"]


def test_an_unknown_setting_is_rejected_rather_than_ignored():
    assert _loc("meta", {"pixel_id": "557085890510243", "pixelId": "1"}) == [
        "body",
        "settings",
        "pixelId",
    ]


@pytest.mark.parametrize(
    ("params", "loc_tail"),
    [
        ({"nested": {"a": 1}}, ["custom_params", "nested"]),
        ({"list": [1, 2]}, ["custom_params", "list"]),
        ({"bad key": "x"}, ["custom_params", "bad key"]),
        ({"long": "x" * 201}, ["custom_params", "long"]),
        ({f"k{i}": i for i in range(CUSTOM_PARAMS_MAX_COUNT + 1)}, ["custom_params"]),
        ("not an object", ["custom_params"]),
    ],
)
def test_custom_params_must_be_a_small_flat_object_of_scalars(params, loc_tail):
    assert _loc("meta", {"pixel_id": "557085890510243", "custom_params": params}) == [
        "body",
        "settings",
        *loc_tail,
    ]


def test_custom_params_keep_scalars():
    params = {"brand": "sunwave", "tier": 2, "ratio": 0.5, "vip": True}
    cleaned = clean_settings(
        "tiktok", {"pixel_code": "COQDA8RC77U2TMR44LI0", "custom_params": params}
    )
    assert cleaned.settings["custom_params"] == params


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("advanced_matching", "yes"),
        ("test_event_code", "has spaces"),
        ("test_event_code", "x" * 51),
    ],
)
def test_common_settings_are_type_checked(field, bad):
    assert _loc("meta", {"pixel_id": "557085890510243", field: bad}) == ["body", "settings", field]


def test_credentials_are_split_from_the_stored_settings():
    cleaned = clean_settings(
        "meta", {"pixel_id": "557085890510243", "access_token": " EAAB-secret "}
    )
    assert "access_token" not in cleaned.settings
    assert cleaned.secrets == {"access_token": "EAAB-secret"}
    ga4 = clean_settings("ga4", {"measurement_id": "G-PSW1MY7HB4", "api_secret": "s3cr3t"})
    assert ga4.secrets == {"api_secret": "s3cr3t"}
    removed = clean_settings("meta", {"pixel_id": "557085890510243", "access_token": None})
    assert removed.secrets == {"access_token": None}


def test_google_ads_sends_with_an_oauth_refresh_token_not_an_access_token():
    ads = {"conversion_id": "AW-736702401", "customer_id": "123-456-7890"}
    cleaned = clean_settings("google_ads", {**ads, "refresh_token": " 1//0g-refresh "})
    assert cleaned.secrets == {"refresh_token": "1//0g-refresh"}
    assert "refresh_token" not in cleaned.settings
    with pytest.raises(InvalidInput) as caught:
        clean_settings("google_ads", {**ads, "access_token": "ya29.expires-in-an-hour"})
    assert caught.value.loc == ["body", "settings", "access_token"]
    assert "refresh_token" in caught.value.message
    assert _loc("meta", {"pixel_id": "557085890510243", "refresh_token": "x"}) == [
        "body",
        "settings",
        "refresh_token",
    ]


def test_a_credential_the_provider_does_not_use_is_rejected_without_echoing_it():
    with pytest.raises(InvalidInput) as caught:
        clean_settings("gtm", {"container_id": "GTM-T37L75D", "access_token": "TOPSECRET"})
    assert caught.value.loc == ["body", "settings", "access_token"]
    assert "TOPSECRET" not in caught.value.message
    assert _loc("meta", {"pixel_id": "557085890510243", "api_secret": "x"}) == [
        "body",
        "settings",
        "api_secret",
    ]


def test_an_unknown_provider_names_the_provider_field():
    assert _loc("snapchat", {}) == ["body", "provider"]


@pytest.mark.parametrize(
    "params", [{"__proto__": "x"}, {"constructor": 1}, {"big": 10**30}, {"neg": -(2**60)}]
)
def test_custom_params_that_javascript_would_mangle_are_refused(params):
    from usher.lib.errors import InvalidInput
    from usher.tracking.providers import clean_custom_params

    with pytest.raises(InvalidInput):
        clean_custom_params(params)
