"""Per-platform normalization and hashing of user data.

The rules: docs/platforms.md, the hashing sections of Meta, Google Ads and TikTok, and
Where integrations disagree."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from usher.platforms import normalize, normalize_user_data
from usher.platforms.normalize import (
    is_sha256_hex,
    normalize_email,
    normalize_phone_e164,
    sha256_hex,
)


def h(value: str) -> str:
    """The expected wire value, computed independently of the code under test."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# Published digests, each checked with `printf %s <value> | sha256sum`:
# Meta's customer-information-parameters examples, and TikTok's customer-file example.
META_EMAIL_DIGEST = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
META_PHONE_DIGEST = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
TIKTOK_EMAIL_DIGEST = "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
PREHASHED = "A" * 8 + "0123456789abcdef" * 3 + "B" * 8  # mixed case, as some CRMs export
ALL_FIELDS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "city",
        "state",
        "zip",
        "country",
        "external_id",
        "gender",
        "date_of_birth",
    }
)


def test_it_produces_metas_published_email_and_phone_digests() -> None:
    wire = normalize_user_data(
        "meta", {"email": "  John_Smith@gmail.com ", "phone": "(650)555-1212", "country": "US"}
    )

    assert wire["email"] == META_EMAIL_DIGEST == h("john_smith@gmail.com")
    assert wire["phone"] == META_PHONE_DIGEST == h("16505551212")


def test_it_produces_tiktoks_published_email_digest() -> None:
    wire = normalize_user_data("tiktok", {"email": " JaneDoe@Gmail.com"})

    assert wire["email"] == TIKTOK_EMAIL_DIGEST == h("janedoe@gmail.com")


@pytest.mark.parametrize(
    ("platform", "api", "raw", "pre_image"),
    [
        # Meta and TikTok keep Gmail dots and +tags; Google removes both for Gmail only.
        ("meta", "conversions", "John.Smith+x@Gmail.com", "john.smith+x@gmail.com"),
        ("tiktok", "conversions", "John.Smith+x@Gmail.com", "john.smith+x@gmail.com"),
        ("tiktok", "audiences", "John.Smith+x@Gmail.com", "john.smith+x@gmail.com"),
        ("google_ads", "conversions", "John.Smith+x@Gmail.com", "johnsmith@gmail.com"),
        ("google_ads", "audiences", "j.o.h.n@googlemail.com", "john@googlemail.com"),
        ("ga4", "conversions", " John.Smith@gmail.com ", "johnsmith@gmail.com"),
        # Google's own example: other domains keep their dots and plus signs.
        ("google_ads", "conversions", "user.name+NYC@Example.com", "user.name+nyc@example.com"),
        ("meta", "audiences", "Anna@Example.co.uk", "anna@example.co.uk"),
    ],
)
def test_it_normalizes_email_per_platform(platform: str, api: str, raw: str, pre_image: str):
    assert normalize_user_data(platform, {"email": raw}, api)["email"] == h(pre_image)


@pytest.mark.parametrize(
    ("platform", "api", "raw", "country", "pre_image"),
    [
        ("meta", "conversions", "(650)555-1212", "US", "16505551212"),
        ("meta", "audiences", "+44 7400 123456", None, "447400123456"),
        ("meta", "conversions", "0170 1234567", "DE", "491701234567"),
        ("google_ads", "conversions", "(650)555-1212", "US", "+16505551212"),
        ("google_ads", "audiences", "0722 123 456", "RO", "+40722123456"),
        ("tiktok", "conversions", "650.555.1212", "us", "+16505551212"),
        ("tiktok", "audiences", "0044 7400 123456", None, "+447400123456"),
        ("ga4", "conversions", "+1 (650) 555-1212", "FR", "+16505551212"),
    ],
)
def test_it_formats_phones_per_platform(
    platform: str, api: str, raw: str, country: str | None, pre_image: str
) -> None:
    wire = normalize_user_data(platform, {"phone": raw, "country": country}, api)

    assert wire["phone"] == h(pre_image)


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("+0000000000", None),
        ("0000000000", "US"),
        ("1111111111", "US"),
        ("+44 7777 777777", None),
        ("12345", "US"),
        ("n/a", "US"),
        ("0722 123 456", None),  # national number and no country to read it with
    ],
)
@pytest.mark.parametrize("platform", ["meta", "google_ads", "tiktok", "ga4"])
def test_it_drops_placeholder_and_invalid_phones(
    platform: str, raw: str, country: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    wire = normalize_user_data(platform, {"phone": raw, "country": country, "email": "a@b.co"})

    assert "phone" not in wire
    assert wire["email"] == h("a@b.co")  # the rest of the record still goes out
    assert not caplog.records  # a bad value is dropped, not reported as a normalizer bug


@pytest.mark.parametrize(
    ("platform", "api", "user_data", "expected"),
    [
        # Meta: letters only (UTF-8 kept), no spaces; US state code; first 5 ZIP digits.
        ("meta", "conversions", {"first_name": "Mary Ann"}, {"first_name": h("maryann")}),
        ("meta", "conversions", {"last_name": "O'Brien"}, {"last_name": h("obrien")}),
        ("meta", "conversions", {"first_name": "Valéry"}, {"first_name": h("valéry")}),
        ("meta", "conversions", {"city": "New York"}, {"city": h("newyork")}),
        ("meta", "conversions", {"city": "São Paulo"}, {"city": h("sãopaulo")}),
        (
            "meta",
            "conversions",
            {"state": "California", "country": "US"},
            {"state": h("ca"), "country": h("us")},
        ),
        (
            "meta",
            "conversions",
            {"state": "Île-de-France", "country": "FR"},
            {"state": h("îledefrance"), "country": h("fr")},
        ),
        ("meta", "conversions", {"zip": "94025-1234"}, {"zip": h("94025")}),
        (
            "meta",
            "conversions",
            {"zip": "M1 1AE", "country": "GB"},
            {"zip": h("m11ae"), "country": h("gb")},
        ),
        ("meta", "conversions", {"gender": "Female"}, {"gender": h("f")}),
        ("meta", "conversions", {"gender": "M"}, {"gender": h("m")}),
        ("meta", "conversions", {"date_of_birth": "1990-05-17"}, {"date_of_birth": h("19900517")}),
        ("meta", "conversions", {"date_of_birth": "19900517"}, {"date_of_birth": h("19900517")}),
        ("meta", "conversions", {"external_id": " Ord-77 "}, {"external_id": h("Ord-77")}),
        # Meta customer files: city/state keep a-z only, dropping the rest like Meta's SDK;
        # the conversions form keeps every letter.
        ("meta", "audiences", {"city": "São Paulo"}, {"city": h("sopaulo")}),
        ("meta", "audiences", {"city": "Sa\u0303o Paulo"}, {"city": h("sopaulo")}),  # decomposed
        ("meta", "audiences", {"city": "Łódź"}, {"city": h("d")}),
        ("meta", "audiences", {"city": "Москва"}, {}),  # nothing left: dropped
        (
            "meta",
            "audiences",
            {"state": "Île-de-France", "country": "FR"},
            {"state": h("ledefrance"), "country": h("fr")},
        ),
        ("meta", "audiences", {"external_id": "Ord-77"}, {"external_id": h("Ord-77")}),
        # Google: names keep single inner spaces; city/state/zip/country travel in clear.
        (
            "google_ads",
            "conversions",
            {"first_name": " Mary-Ann ", "last_name": "van der  Berg"},
            {"first_name": h("maryann"), "last_name": h("van der berg")},
        ),
        (
            "google_ads",
            "conversions",
            {"city": "San Francisco", "state": "California", "zip": " 94043 ", "country": "us"},
            {"city": "san francisco", "state": "ca", "zip": "94043", "country": "US"},
        ),
        (
            "ga4",
            "conversions",
            {"city": "Mountain View 2", "state": "California", "zip": "940.43~", "country": "us"},
            {"city": "mountain view", "state": "california", "zip": "94043", "country": "US"},
        ),
        # TikTok: names and zip hashed; city/state/country in clear.
        (
            "tiktok",
            "conversions",
            {"first_name": "Jean-Luc", "zip": "SW1A 1AA", "city": "New York", "country": "GB"},
            {"first_name": h("jeanluc"), "zip": h("sw1a1aa"), "city": "newyork", "country": "gb"},
        ),
        ("tiktok", "conversions", {"external_id": "u-1"}, {"external_id": h("u-1")}),
    ],
)
def test_it_normalizes_names_places_and_identity_fields(
    platform: str, api: str, user_data: dict[str, str], expected: dict[str, str]
) -> None:
    assert normalize_user_data(platform, user_data, api) == expected


@pytest.mark.parametrize(
    ("platform", "api", "accepted"),
    [
        ("meta", "conversions", ALL_FIELDS),
        ("meta", "audiences", ALL_FIELDS - {"date_of_birth"}),
        (
            "google_ads",
            "conversions",
            {"email", "phone", "first_name", "last_name", "city", "state", "zip", "country"},
        ),
        (
            "google_ads",
            "audiences",
            {"email", "phone", "first_name", "last_name", "zip", "country"},
        ),
        (
            "ga4",
            "conversions",
            {"email", "phone", "first_name", "last_name", "city", "state", "zip", "country"},
        ),
        (
            "tiktok",
            "conversions",
            ALL_FIELDS - {"gender", "date_of_birth"},
        ),
        ("tiktok", "audiences", {"email", "phone"}),
    ],
)
def test_it_sends_only_the_fields_each_platform_and_api_accepts(
    platform: str, api: str, accepted: set[str]
) -> None:
    full = {
        "email": "ana@example.com",
        "phone": "+40722123456",
        "first_name": "Ana",
        "last_name": "Pop",
        "city": "Cluj",
        "state": "Cluj",
        "zip": "400001",
        "country": "RO",
        "external_id": "buyer-1",
        "gender": "f",
        "date_of_birth": "1991-02-03",
    }

    assert set(normalize_user_data(platform, full, api)) == accepted


@pytest.mark.parametrize("platform", ["meta", "google_ads", "tiktok", "ga4"])
def test_it_passes_pre_hashed_values_through_without_hashing_again(platform: str) -> None:
    wire = normalize_user_data(platform, {"email": f" {PREHASHED} ", "phone": PREHASHED})

    assert wire["email"] == wire["phone"] == PREHASHED.lower()


def test_it_drops_pre_hashed_values_where_the_platform_wants_clear_text() -> None:
    wire = normalize_user_data("google_ads", {"city": PREHASHED, "country": PREHASHED})

    assert wire == {}


@pytest.mark.parametrize(
    "user_data",
    [
        None,
        {},
        {"email": None, "phone": "", "first_name": "   ", "city": 42, "zip": ["94043"]},
        {"email": "not-an-email", "phone": {"number": 1}, "gender": "x", "country": "Mars"},
        {"email": "a@b", "date_of_birth": "1990-13-45", "country": "United States"},
        {"first_name": "!!!", "last_name": "123", "zip": "--", "external_id": True},
        {"date_of_birth": "17/05/1990"},  # day-first is ambiguous: dropped, not guessed
    ],
)
@pytest.mark.parametrize(("platform", "api"), [("meta", "conversions"), ("tiktok", "audiences")])
def test_it_drops_values_it_cannot_normalize_and_never_raises(
    platform: str,
    api: str,
    user_data: dict[str, object] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert normalize_user_data(platform, user_data, api) == {}
    assert not caplog.records  # a bad value is dropped, not reported as a normalizer bug


@pytest.mark.parametrize("email", ["+news@gmail.com", "...@googlemail.com"])
def test_google_drops_a_gmail_address_with_nothing_left_before_the_at(email: str) -> None:
    assert normalize_user_data("google_ads", {"email": email}) == {}


def test_google_cuts_a_gmail_address_at_its_first_plus() -> None:
    wire = normalize_user_data("google_ads", {"email": "john+work+x@gmail.com"})

    assert wire["email"] == h("john@gmail.com")


def test_it_keeps_good_fields_when_others_are_bad() -> None:
    wire = normalize_user_data(
        "meta", {"email": "nope", "phone": "+0000000000", "first_name": "Ana", "country": "UK"}
    )

    assert wire == {"first_name": h("ana"), "country": h("gb")}


def test_it_drops_a_us_state_it_cannot_map_to_a_code() -> None:
    wire = normalize_user_data("meta", {"state": "Calif.", "country": "US"})

    assert wire == {"country": h("us")}


def test_it_drops_future_and_pre_1900_birth_dates() -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()

    for raw in (tomorrow, "1899-12-31"):
        assert normalize_user_data("meta", {"date_of_birth": raw}) == {}


@pytest.mark.parametrize(
    ("platform", "api", "named"),
    [
        ("linkedin", "conversions", "'linkedin'"),
        ("Meta", "conversions", "'Meta'"),
        ("meta", "offline", "'offline'"),
        ("ga4", "audiences", "ga4 has no audiences API"),
    ],
)
def test_it_rejects_unknown_platforms_and_apis_naming_them(
    platform: str, api: str, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        normalize_user_data(platform, {"email": "a@b.co"}, api)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (h("x"), True),
        (h("x").upper(), True),
        (f"  {h('x')}\n", True),
        (h("x")[:63], False),
        (h("x") + "0", False),
        ("z" * 64, False),
        (None, False),
        (12345, False),
    ],
)
def test_is_sha256_hex_recognizes_digests(value: object, expected: bool) -> None:
    assert is_sha256_hex(value) is expected


def test_sha256_hex_hashes_utf8_bytes_to_lowercase_hex() -> None:
    assert sha256_hex("john_smith@gmail.com") == META_EMAIL_DIGEST
    assert sha256_hex("정") == hashlib.sha256("정".encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John_Smith@Gmail.COM ", "john_smith@gmail.com"),
        ("john @example.com", "john@example.com"),
        ("no-at-sign.example.com", None),
        ("two@@example.com", None),
        ("john@localhost", None),
        ("john@example..com", None),
        ("@example.com", None),
        (None, None),
    ],
)
def test_normalize_email(raw: object, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(650)555-1212", "US", "+16505551212"),
        ("16505551212", "US", "+16505551212"),
        ("16505551212", None, "+16505551212"),
        ("4917012345678", "DE", "+4917012345678"),
        ("030 1234567", "de", "+49301234567"),
        ("+49 (0)30 1234567", "US", "+49301234567"),
        ("07400 123456", "UK", "+447400123456"),
        ("+1 650 555 1212 ext. 9", None, "+16505551212"),
        ("6505551212", None, None),
        ("+0000000000", "US", None),
        # A `+` typed before the international `00` prefix (common in Romania).
        ("+0040 722 123 456", None, "+40722123456"),
        ("+0040 722 123 456", "RO", "+40722123456"),
        ("+001-800-555-1234", "RO", "+18005551234"),
        ("0040722123456", None, "+40722123456"),
        ("+ 0040 722 123 456", None, "+40722123456"),  # a space typed after the `+`
        # An extension is set apart, whatever its length.
        ("1 650 555 1212 x 12345678", "US", "+16505551212"),
        # The country's code written without `+`, then an extension: the code once.
        ("4917012345678 ext 123456", "DE", "+4917012345678"),
        ("49 30 1234567 ext 12", "DE", "+49301234567"),
        ("1 650 555 1212 ext 9", None, "+16505551212"),
        ("0049 170 12345678 ext 12", None, "+4917012345678"),
        # Invalid with its code; read nationally it would carry the code twice (+4949…).
        ("4911234567", "DE", None),
        ("+1 212 212 1212", None, "+12122121212"),  # two distinct digits are enough
        (h("x"), "US", None),
        # A digest is never read as a number, even when its digits would make one.
        ("f" * 53 + "16505551212", None, None),
        (None, "US", None),
        (16505551212, None, None),
    ],
)
def test_normalize_phone_e164(raw: object, country: str | None, expected: str | None) -> None:
    assert normalize_phone_e164(raw, country) == expected


def test_a_failing_normalizer_costs_one_field_not_the_event(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(text: str, country: str | None) -> str:
        raise RuntimeError("bug")

    monkeypatch.setitem(normalize.META_CONVERSIONS, "city", normalize.FieldRule(explode, True))

    wire = normalize_user_data("meta", {"city": "Secret City", "first_name": "Ana"})

    assert wire == {"first_name": h("ana")}
    assert [r.getMessage() for r in caplog.records] == ["normalizing city for meta failed"]
    assert "Secret City" not in caplog.text  # PII never reaches the log


@pytest.mark.parametrize(("platform", "api"), list(normalize.RULES))
def test_normalizing_its_own_output_changes_nothing(platform: str, api: str) -> None:
    # Ingest stores the wire values and connectors normalize them again before sending.
    raw = {
        "email": "John.Smith+x@Gmail.com",
        "phone": "(650)555-1212",
        "first_name": "Mary Ann",
        "last_name": "O'Brien",
        "city": "San Francisco",
        "state": "California",
        "zip": "94025-1234",
        "country": "us",
        "external_id": "buyer-1",
        "gender": "F",
        "date_of_birth": "1990-05-17",
    }
    once = normalize_user_data(platform, raw, api)

    assert normalize_user_data(platform, once, api) == once


@pytest.mark.parametrize("letters", [normalize._letters, normalize._ascii_letters])
def test_the_meta_state_rule_codes_us_states_and_keeps_other_regions_as_letters(letters) -> None:
    # Built here rather than read from the tables: the tables build their rules once, at
    # import, so only a rule built by the test runs the factory's code under test.
    state = normalize._meta_state(letters)

    assert state("California", "US") == "ca"
    assert state(" TX ", None) == "tx"  # a US code is recognized without a country
    assert state("Calif.", "US") is None  # a US value that is no state: dropped
    assert state("Bavaria", "DE") == "bavaria"
    assert state("Georgia", "GE") == "georgia"  # the country, not the US state
    assert state("Ontario", None) == "ontario"
    assert state("!!!", "FR") is None


def test_meta_customer_files_keep_only_a_to_z_in_places() -> None:
    wire = normalize_user_data(
        "meta", {"city": "Zürich", "state": "new_york[1]", "country": "CH"}, "audiences"
    )

    assert wire == {"city": h("zrich"), "state": h("newyork"), "country": h("ch")}


def test_google_reads_a_state_name_as_a_us_state_only_in_the_us() -> None:
    wire = normalize_user_data("google_ads", {"state": "Georgia", "country": "GE"})

    assert wire["state"] == "georgia"


def test_google_keeps_the_single_spaces_inside_a_postal_code() -> None:
    assert normalize_user_data("google_ads", {"zip": " SW1A  1AA "})["zip"] == "SW1A 1AA"


@pytest.mark.parametrize(
    ("zip_code", "country", "pre_image"),
    [
        ("94025-1234", "US", "94025"),
        ("94025 1234", "us", "94025"),
        ("10115", "DE", "10115"),
        # Shaped like ZIP+4 but not in the US: kept whole, lowercased, without the dash.
        ("12345-6789", "DE", "123456789"),
    ],
)
def test_meta_keeps_five_zip_digits_in_the_us_and_whole_postal_codes_elsewhere(
    zip_code: str, country: str, pre_image: str
) -> None:
    assert normalize_user_data("meta", {"zip": zip_code, "country": country})["zip"] == h(pre_image)


def test_meta_drops_a_us_zip_that_is_not_five_digits_without_reporting_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wire = normalize_user_data("meta", {"zip": "SW1A 1AA", "country": "US"})

    assert "zip" not in wire
    assert not caplog.records  # a bad value is not a normalizer bug


def test_a_birth_date_from_1900_through_today_is_kept() -> None:
    today = date.today()

    for born in (date(1900, 1, 1), today):
        wire = normalize_user_data("meta", {"date_of_birth": born.isoformat()})
        assert wire == {"date_of_birth": h(born.strftime("%Y%m%d"))}


ZIP_RULES = [
    (platform, api) for (platform, api), rules in normalize.RULES.items() if "zip" in rules
]


@pytest.mark.parametrize(("platform", "api"), ZIP_RULES)
@pytest.mark.parametrize("zip_code", ["--", " - . ~ ", "()/"])
def test_every_platform_drops_a_postal_code_with_no_letter_or_digit(
    platform: str, api: str, zip_code: str, caplog: pytest.LogCaptureFixture
) -> None:
    wire = normalize_user_data(platform, {"zip": zip_code, "country": "GB"}, api)

    assert "zip" not in wire
    assert not caplog.records  # dropped as a bad value, not reported as a normalizer bug


@pytest.mark.parametrize(("platform", "api"), ZIP_RULES)
def test_every_platform_keeps_a_postal_code_of_one_letter_or_digit_among_symbols(
    platform: str, api: str
) -> None:
    assert "zip" in normalize_user_data(platform, {"zip": "-7-", "country": "GB"}, api)
