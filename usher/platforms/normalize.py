"""User-data normalization and hashing, per platform and per API.

The same buyer must hash to the value each platform computes on its side, and the platforms
disagree (docs/platforms.md, Where integrations disagree): Meta wants phone digits without
`+`, Google and TikTok want E.164 with `+`; Google drops the dots (and `+tag`) of Gmail
addresses, Meta and TikTok keep them; Google sends city/state/zip/country in clear, Meta
hashes them. Where sources disagree, each rule follows the platform's own documentation, and
the comment beside it says which.

`normalize_user_data` takes our field names and returns, under the same names, the
value that goes on the wire: normalized, and SHA-256 hex where the platform hashes it.
Fields a platform (or API) does not accept are left out. Bad values are dropped, never
raised, and never sent: a placeholder phone must not fail a whole audience batch.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import phonenumbers

logger = logging.getLogger(__name__)

PLATFORMS = ("meta", "google_ads", "tiktok", "ga4")
APIS = ("conversions", "audiences")
FIELDS = (
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
)

MIN_BIRTH_YEAR = 1900  # Meta: "year 1900 to current year"

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_DATE_YEAR_FIRST = re.compile(r"(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})(?:[T ].*)?")
_US_ZIP = re.compile(r"(\d{5})(?:[-\s]?\d{4})?")
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# US states by name, for platforms that want the 2-letter USPS/ANSI code (Meta, Google Ads).
US_STATE_CODES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
    "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id", "illinois": "il",
    "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
    "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi",
    "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
    "nebraska": "ne", "nevada": "nv", "newhampshire": "nh", "newjersey": "nj",
    "newmexico": "nm", "newyork": "ny", "northcarolina": "nc", "northdakota": "nd",
    "ohio": "oh", "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa",
    "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd", "tennessee": "tn",
    "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy", "puertorico": "pr",
}  # fmt: skip
_US_STATE_CODE_SET = frozenset(US_STATE_CODES.values())
_GENDERS = {"f": "f", "female": "f", "woman": "f", "m": "m", "male": "m", "man": "m"}


# --- Public helpers ---


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes, as 64 lowercase hex characters (what every platform wants)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: object) -> bool:
    """True for a value that is already a SHA-256 hex digest (either case, outer spaces ok)."""
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value.strip()) is not None


def normalize_email(raw: object) -> str | None:
    """Lowercased address without whitespace, or None when it is not shaped like one.

    Whitespace is never valid in an address; Google and TikTok say to remove it.
    """
    if not isinstance(raw, str):
        return None
    email = "".join(raw.split()).lower()
    return email if _EMAIL.fullmatch(email) else None


def normalize_phone_e164(raw: object, default_country: object = None) -> str | None:
    """`+<country code><number>`, or None for anything that is not a real number.

    National numbers are read with the buyer's country (ISO alpha-2); numbers written
    with `+` or `00` carry their own, as do both at once (`+0040 722 123 456`, common in
    Romania: a `+` typed before the international `00` prefix). An extension
    (`ext 12`, `x 12`) is dropped, and a country code written without `+` is never
    added a second time. Numbers invalid for their region, placeholders
    such as `+0000000000` and runs of one digit are rejected: sending them hashes to a
    value that matches nobody (or fails a batch: docs/platforms.md, Where
    integrations disagree).
    """
    if not isinstance(raw, str) or not raw.strip() or is_sha256_hex(raw):
        return None
    text = raw.strip()
    compact = "".join(text.split())
    digits = "".join(ch for ch in compact if ch.isdigit())
    region = _country_code(default_country)
    calling_code = str(phonenumbers.country_code_for_region(region)) if region else ""
    # Read as written after a `+`, not as `+<all digits>`: phonenumbers then sets an
    # extension apart ("4917012345678 ext 12" is +4917012345678, not 19 digits).
    international = ("+" + compact.removeprefix("+"), None)
    if compact.startswith(("00", "+00")):
        candidates = [("+" + compact.removeprefix("+")[2:], None)]
    elif compact.startswith("+"):
        candidates = [(text, None)]
    elif not region:
        candidates = [international]  # Meta-style digits that already carry the code
    elif digits.startswith(calling_code):
        # Own country code without `+` (4917012345678 in DE): as written, then national
        # (where the code is also the trunk prefix: 1 650 555 1212 in the US).
        candidates = [international, (text, region)]
    else:
        candidates = [(text, region), international]
    for number, number_region in candidates:
        try:
            parsed = phonenumbers.parse(number, number_region)
        except phonenumbers.NumberParseException:
            continue
        national = str(parsed.national_number)
        if number_region and digits.startswith(calling_code) and national.startswith(calling_code):
            continue  # the written code read as part of the national number: it would double
        if phonenumbers.is_valid_number(parsed) and len(set(national)) > 1:
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


# --- Field normalizers: (stripped text, buyer's country or None) -> wire value or None ---

Normalizer = Callable[[str, str | None], str | None]


@dataclass(frozen=True)
class FieldRule:
    normalize: Normalizer
    hashed: bool


def _email(text: str, country: str | None) -> str | None:
    return normalize_email(text)


def _email_google(text: str, country: str | None) -> str | None:
    """Google: for gmail.com/googlemail.com drop every dot and any `+tag` in the local part.

    Data Manager "Format user data" documents both (cloudy.sanfrancisco+shopping@gmail.com
    -> cloudysanfrancisco@gmail.com); other domains keep dots and `+` (docs/platforms.md,
    Google Ads: hashing).
    """
    email = normalize_email(text)
    if email is None:
        return None
    local, _, domain = email.partition("@")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}" if local else None


def _phone_e164(text: str, country: str | None) -> str | None:
    return normalize_phone_e164(text, country)


def _phone_meta(text: str, country: str | None) -> str | None:
    # Meta: digits only, country code included, no `+` or leading zeros (16505551212).
    e164 = normalize_phone_e164(text, country)
    return e164[1:] if e164 else None


def _letters(text: str) -> str:
    """Lowercase letters (any script, with their combining marks) and nothing else."""
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LM")


def _ascii_letters(text: str) -> str:
    """a-z and nothing else: every other character dropped, not transliterated, as
    Meta's own SDK does for customer files (São Paulo -> sopaulo), so our hashes match
    the ones Meta computes. NFC first, so a decomposed ã is dropped like a composed one."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text).lower() if "a" <= ch <= "z")


def _words(text: str) -> str:
    """Lowercase words without digits, symbols or punctuation, single-spaced and trimmed."""
    text = unicodedata.normalize("NFC", text).lower()
    chars = (ch if unicodedata.category(ch)[0] in "LM" or ch.isspace() else "" for ch in text)
    return " ".join("".join(chars).split())


def _letters_only(text: str, country: str | None) -> str | None:
    return _letters(text) or None


def _ascii_letters_only(text: str, country: str | None) -> str | None:
    return _ascii_letters(text) or None


def _words_only(text: str, country: str | None) -> str | None:
    return _words(text) or None


def _us_state(text: str, country: str | None) -> str | None:
    """The lowercase 2-letter code for a US state name or code; None if not one."""
    if country not in (None, "US"):
        return None
    key = "".join(ch for ch in text.lower() if ch.isalpha())
    if key in _US_STATE_CODE_SET:
        return key
    return US_STATE_CODES.get(key)


def _meta_state(letters: Callable[[str], str | None]) -> Normalizer:
    """Meta st: US = 2-letter ANSI code (ca); elsewhere `letters` (no spaces or punctuation)."""

    def normalize(text: str, country: str | None) -> str | None:
        code = _us_state(text, country)
        if code is None and country == "US":
            return None  # not a US state: a mangled value would match nobody
        return code or letters(text) or None

    return normalize


def _state_google(text: str, country: str | None) -> str | None:
    # Google Ads wants the "state code"; elsewhere the region name, lowercase, no symbols.
    return _us_state(text, country) or _words(text) or None


def _place_tiktok(text: str, country: str | None) -> str | None:
    # TikTok sends city/state in clear; non-alphanumerics removed, lowercased
    # (docs/platforms.md, TikTok: hashing; from Segment, TikTok's own text was not available).
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LMN") or None


def _has_letter_or_digit(text: str) -> bool:
    """A postal code is made of letters and digits: one with neither ("--") is a
    placeholder that would match nobody, so every zip rule drops it."""
    return any(ch.isalnum() for ch in text)


def _zip_meta(text: str, country: str | None) -> str | None:
    # Meta: lowercase, no spaces or dash; US keeps the first 5 digits (94025-1234 -> 94025).
    us_zip = _US_ZIP.fullmatch(text)
    if country == "US" or (country is None and us_zip):
        return us_zip.group(1) if us_zip else None
    return "".join(ch for ch in text.lower() if ch.isalnum()) or None


def _zip_google(text: str, country: str | None) -> str | None:
    # Google Ads takes postal codes in clear and as written (ZIP+4 allowed).
    if not _has_letter_or_digit(text):
        return None
    return " ".join(text.split())


def _zip_ga4(text: str, country: str | None) -> str | None:
    # GA4 Measurement Protocol: remove `.` and `~`, trim.
    if not _has_letter_or_digit(text):
        return None
    return text.replace(".", "").replace("~", "").strip()


def _zip_tiktok(text: str, country: str | None) -> str | None:
    # TikTok hashes zip_code after removing whitespace and lowercasing (docs/platforms.md, TikTok:
    # hashing).
    if not _has_letter_or_digit(text):
        return None
    return "".join(text.split()).lower()


def _country_lower(text: str, country: str | None) -> str | None:
    code = _country_code(text)
    return code.lower() if code else None


def _country_upper(text: str, country: str | None) -> str | None:
    # Google (Ads, Data Manager, GA4 samples) writes ISO codes upper-case ("US"), in clear.
    return _country_code(text)


def _external_id(text: str, country: str | None) -> str:
    # IDs are case-sensitive in our systems and no platform documents a case rule: trim only.
    return text


def _gender(text: str, country: str | None) -> str | None:
    return _GENDERS.get(text.lower())


def _date_of_birth(text: str, country: str | None) -> str | None:
    """Meta `db`: YYYYMMDD, a real date between 1900 and today; year-first input only."""
    match = _DATE_YEAR_FIRST.fullmatch(text)
    if match is None:
        return None
    try:
        born = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    if born.year < MIN_BIRTH_YEAR or born > date.today():
        return None
    return born.strftime("%Y%m%d")


def _country_code(raw: object) -> str | None:
    """Upper-case ISO 3166-1 alpha-2 code, or None; full names are not guessed."""
    if not isinstance(raw, str):
        return None
    code = raw.strip().upper()
    code = "GB" if code == "UK" else code  # the one common non-ISO spelling
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


# --- Per-platform tables ---

HASHED, CLEAR = True, False

META_CONVERSIONS = {
    "email": FieldRule(_email, HASHED),  # Meta: trim + lowercase, no Gmail rule
    "phone": FieldRule(_phone_meta, HASHED),
    # Meta fn/ln: lowercase, no punctuation, UTF-8 letters kept (valéry, 정); spaces removed
    # as the Meta pixel does, so pixel and server hashes agree (docs/platforms.md, Meta: hashing).
    "first_name": FieldRule(_letters_only, HASHED),
    "last_name": FieldRule(_letters_only, HASHED),
    # Meta ct: lowercase, no punctuation, special characters or spaces; UTF-8 accepted.
    "city": FieldRule(_letters_only, HASHED),
    "state": FieldRule(_meta_state(_letters), HASHED),
    "zip": FieldRule(_zip_meta, HASHED),
    "country": FieldRule(_country_lower, HASHED),
    # Meta recommends hashing external_id (the SDK sends it raw); hashed here and in the
    # audience upload so the two match each other and the pixel's value.
    "external_id": FieldRule(_external_id, HASHED),
    "gender": FieldRule(_gender, HASHED),
    "date_of_birth": FieldRule(_date_of_birth, HASHED),
}

META_AUDIENCES = {
    **META_CONVERSIONS,
    # Meta customer-file CT/ST: "a-z only" (unlike CAPI, which accepts UTF-8 letters).
    "city": FieldRule(_ascii_letters_only, HASHED),
    "state": FieldRule(_meta_state(_ascii_letters), HASHED),
}
# The customer-file schema splits birth dates into DOBY/DOBM/DOBD; it has no single `db`.
del META_AUDIENCES["date_of_birth"]

GOOGLE_ADS_CONVERSIONS = {
    "email": FieldRule(_email_google, HASHED),
    "phone": FieldRule(_phone_e164, HASHED),
    # Google Ads OfflineUserAddressInfo: lowercase, no punctuation, "remove any extra spaces
    # before, after, and in between"; GA4 adds: no digits or symbols. Single inner spaces
    # stay: the text says *extra* spaces (some read it as every space: docs/platforms.md,
    # Google Ads: hashing).
    "first_name": FieldRule(_words_only, HASHED),
    "last_name": FieldRule(_words_only, HASHED),
    # Google: "don't hash country, state, city, postal code" (upload-online guide).
    "city": FieldRule(_words_only, CLEAR),
    "state": FieldRule(_state_google, CLEAR),
    "zip": FieldRule(_zip_google, CLEAR),
    "country": FieldRule(_country_upper, CLEAR),
}

# Customer Match: city and state are accepted only for store sales and adjustments.
GOOGLE_ADS_AUDIENCES = {
    key: rule for key, rule in GOOGLE_ADS_CONVERSIONS.items() if key not in ("city", "state")
}

GA4_CONVERSIONS = {
    "email": FieldRule(_email_google, HASHED),  # "same normalization as Google Ads"
    "phone": FieldRule(_phone_e164, HASHED),
    "first_name": FieldRule(_words_only, HASHED),
    "last_name": FieldRule(_words_only, HASHED),
    # GA4 city/region: remove digits and symbols, lowercase, trim; region is a name.
    "city": FieldRule(_words_only, CLEAR),
    "state": FieldRule(_words_only, CLEAR),
    "zip": FieldRule(_zip_ga4, CLEAR),
    "country": FieldRule(_country_upper, CLEAR),
}

TIKTOK_CONVERSIONS = {
    "email": FieldRule(_email, HASHED),  # TikTok: trim + lowercase, Gmail dots kept
    "phone": FieldRule(_phone_e164, HASHED),  # TikTok: E.164 with `+`
    "external_id": FieldRule(_external_id, HASHED),  # TikTok: hashing required
    # TikTok names: lowercase, no punctuation, special characters allowed; hashed.
    "first_name": FieldRule(_letters_only, HASHED),
    "last_name": FieldRule(_letters_only, HASHED),
    "city": FieldRule(_place_tiktok, CLEAR),
    "state": FieldRule(_place_tiktok, CLEAR),
    "zip": FieldRule(_zip_tiktok, HASHED),
    "country": FieldRule(_country_lower, CLEAR),
}

# TikTok customer-file / segment audiences match on EMAIL_SHA256 and PHONE_SHA256 only,
# formatted as for events (customer-file guide: lowercase email, E.164 phone with `+`).
TIKTOK_AUDIENCES = {key: TIKTOK_CONVERSIONS[key] for key in ("email", "phone")}

RULES: dict[tuple[str, str], Mapping[str, FieldRule]] = {
    ("meta", "conversions"): META_CONVERSIONS,
    ("meta", "audiences"): META_AUDIENCES,
    ("google_ads", "conversions"): GOOGLE_ADS_CONVERSIONS,
    ("google_ads", "audiences"): GOOGLE_ADS_AUDIENCES,
    ("tiktok", "conversions"): TIKTOK_CONVERSIONS,
    ("tiktok", "audiences"): TIKTOK_AUDIENCES,
    ("ga4", "conversions"): GA4_CONVERSIONS,
}


def normalize_user_data(
    platform: str, user_data: Mapping[str, object] | None, api: str = "conversions"
) -> dict[str, str]:
    """The wire values of `user_data` for `platform`'s `api`, under our field names.

    Values already hashed (64 hex characters) pass through lowercased where the platform
    hashes the field, and are dropped where it expects clear text. Unknown platforms or
    APIs raise ValueError (a bug in the caller); bad user values never raise.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}; expected one of {APIS}")
    rules = RULES.get((platform, api))
    if rules is None:
        raise ValueError(f"{platform} has no {api} API (GA4 cannot take audience uploads)")
    if not isinstance(user_data, Mapping):
        return {}
    country = _country_code(user_data.get("country"))
    wire: dict[str, str] = {}
    for field_name, rule in rules.items():
        value = _wire_value(rule, user_data.get(field_name), country, platform, field_name)
        if value:
            wire[field_name] = value
    return wire


def _wire_value(
    rule: FieldRule, raw: object, country: str | None, platform: str, field_name: str
) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if is_sha256_hex(text):
        return text.lower() if rule.hashed else None
    try:
        normalized = rule.normalize(text, country)
    except Exception:
        # A normalizer bug must cost one field, not the event; the value is PII, not logged.
        logger.exception("normalizing %s for %s failed", field_name, platform)
        return None
    if not normalized:
        return None
    return sha256_hex(normalized) if rule.hashed else normalized
