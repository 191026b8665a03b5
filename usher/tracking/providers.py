"""Per-provider settings of a tracking code: one `ProviderSpec` per provider, in one dict.

Everything that differs between providers (the id's key and grammar, which credential
enables server-side sending, provider-only settings, the help text shown to organizers)
lives in its spec, so no other module switches on provider names. The id grammars come
from docs/platforms.md, ID formats; values are stripped first, and Google/TikTok ids upper-cased
because organizers paste them in any case.

Errors are `InvalidInput(["body", "settings", <field>, ...], reason)`: the API answers 422
with that location and the panel maps it back to its form field. Messages never echo a
credential.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from usher.events.names import StandardEvent
from usher.lib.errors import InvalidInput
from usher.lib.validation import describe_unstorable, find_unstorable
from usher.tracking.models import SECRET_NAMES
from usher.tracking.resolved import Provider

SETTINGS_LOC: tuple[str, ...] = ("body", "settings")

# Bounds on free-form settings: they end up in every page's tracking config.
CUSTOM_PARAMS_MAX_COUNT = 20
CUSTOM_PARAM_KEY_MAX_CHARS = 40
CUSTOM_PARAM_VALUE_MAX_CHARS = 200
SECRET_MAX_CHARS = 2048
TEST_EVENT_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
CUSTOM_PARAM_KEY_RE = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]{{0,{CUSTOM_PARAM_KEY_MAX_CHARS - 1}}}$")
ADS_LABEL_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
ADS_CUSTOMER_ID_RE = re.compile(r"^[0-9]{3}-?[0-9]{3}-?[0-9]{4}$")
ADS_CONVERSION_ACTION_RE = re.compile(r"^[0-9]{1,20}$")

Cleaner = Callable[[Any, tuple[str, ...]], Any]


def _fail(loc: tuple[str, ...], message: str) -> InvalidInput:
    return InvalidInput([*SETTINGS_LOC, *loc], message)


@dataclass(frozen=True)
class ProviderSpec:
    """How one provider's code is configured and validated."""

    provider: Provider
    id_field: str  # the settings key holding the provider's id
    id_label: str
    id_pattern: re.Pattern[str]
    id_format: str  # what a valid id looks like, for error messages and placeholders
    uppercase: bool
    help_text: str  # where the organizer finds the id (and the credential)
    secret: str | None = None  # the credential that enables server-side sending
    # Settings besides the secret that server-side sending needs (e.g. the Ads customer).
    server_side_settings: tuple[str, ...] = ()
    # A settings key mapping event names to what the platform needs per event server-side
    # (Google Ads: a conversion action); events without an entry are not sent.
    server_side_events_setting: str | None = None
    # A tag manager runs whatever its container holds: the marketplace may refuse them.
    tag_manager: bool = False
    extra_fields: Mapping[str, Cleaner] = field(default_factory=dict)

    def clean_id(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _fail((self.id_field,), f"{self.id_label} is required ({self.id_format}).")
        cleaned = value.strip().upper() if self.uppercase else value.strip()
        if not self.id_pattern.fullmatch(cleaned):
            raise _fail((self.id_field,), f"{self.id_label} must look like {self.id_format}.")
        return cleaned


@dataclass(frozen=True)
class CleanSettings:
    """Validated settings: what is stored in `settings`, and the credentials supplied
    (absent = keep the stored one, None = remove it)."""

    settings: dict[str, Any]
    secrets: dict[str, str | None]


def _clean_per_event(pattern: re.Pattern[str], what: str) -> Cleaner:
    """A {standard event: value} map, e.g. the Google Ads conversion label per event."""

    def clean(value: Any, loc: tuple[str, ...]) -> dict[str, str]:
        if not isinstance(value, dict):
            raise _fail(loc, f"must be an object mapping event names to {what}s.")
        cleaned: dict[str, str] = {}
        for event, item in value.items():
            if event not in StandardEvent.values:
                raise _fail((*loc, str(event)), f"unknown event {event!r}.")
            if not isinstance(item, str) or not pattern.fullmatch(item.strip()):
                raise _fail((*loc, event), f"not a valid {what}.")
            cleaned[event] = item.strip()
        return cleaned

    return clean


def _clean_customer_id(value: Any, loc: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not ADS_CUSTOMER_ID_RE.fullmatch(value.strip()):
        raise _fail(loc, "must be a 10-digit Google Ads customer id, e.g. 123-456-7890.")
    # The API wants the bare digits (docs/platforms.md, ID formats).
    return value.strip().replace("-", "")


SPECS: dict[str, ProviderSpec] = {
    spec.provider.value: spec
    for spec in [
        ProviderSpec(
            provider=Provider.META,
            id_field="pixel_id",
            id_label="Pixel ID",
            id_pattern=re.compile(r"^[0-9]{15,16}$"),
            id_format="15 or 16 digits, e.g. 557085890510243",
            uppercase=False,
            help_text=(
                "Meta Events Manager → Data sources → your pixel (dataset) → Settings: the "
                "15-16 digit Pixel ID. For server-side sending, generate an access token "
                "in the same Settings page, under Conversions API."
            ),
            secret="access_token",
        ),
        ProviderSpec(
            provider=Provider.GA4,
            id_field="measurement_id",
            id_label="Measurement ID",
            id_pattern=re.compile(r"^G-[A-Z0-9]{6,12}$"),
            id_format="G- followed by 6-12 letters or digits, e.g. G-PSW1MY7HB4",
            uppercase=True,
            help_text=(
                "Google Analytics → Admin → Data streams → your web stream: the Measurement "
                "ID (G-…). For server-side sending, create a Measurement Protocol API "
                "secret on the same page."
            ),
            secret="api_secret",
        ),
        ProviderSpec(
            provider=Provider.GTM,
            id_field="container_id",
            id_label="Container ID",
            id_pattern=re.compile(r"^GTM-[A-Z0-9]{4,10}$"),
            id_format="GTM- followed by 4-10 letters or digits, e.g. GTM-T37L75D",
            tag_manager=True,
            uppercase=True,
            help_text=(
                "Google Tag Manager → your workspace: the Container ID (GTM-…) shown at the "
                "top, next to the workspace name."
            ),
        ),
        ProviderSpec(
            provider=Provider.GOOGLE_ADS,
            id_field="conversion_id",
            id_label="Conversion ID",
            id_pattern=re.compile(r"^AW-[0-9]{6,12}$"),
            id_format="AW- followed by 6-12 digits, e.g. AW-736702401",
            uppercase=True,
            help_text=(
                "Google Ads → Goals → Conversions → your conversion action → Tag setup → "
                "Install the tag yourself: send_to is AW-123456789/AbCdEfGhIj; the part "
                "before the slash is the Conversion ID, the part after it the label of that "
                "conversion. The customer id (123-456-7890) is at the top right of Google Ads. "
                "Server-side sending uses the OAuth refresh token from connecting your Google "
                "Ads account to the marketplace's app (access tokens expire within an hour)."
            ),
            secret="refresh_token",
            server_side_settings=("customer_id",),
            server_side_events_setting="conversion_actions",
            extra_fields={
                "conversion_labels": _clean_per_event(ADS_LABEL_RE, "conversion label"),
                "conversion_actions": _clean_per_event(
                    ADS_CONVERSION_ACTION_RE, "conversion action id"
                ),
                "customer_id": _clean_customer_id,
            },
        ),
        ProviderSpec(
            provider=Provider.TIKTOK,
            id_field="pixel_code",
            id_label="Pixel ID",
            id_pattern=re.compile(r"^[A-Z0-9]{20}$"),
            id_format="20 letters or digits, e.g. COQDA8RC77U2TMR44LI0",
            uppercase=True,
            help_text=(
                "TikTok Ads Manager → Tools → Events → Web events → your pixel: the "
                "20-character Pixel ID under the pixel's name. For server-side sending, "
                "generate an Events API access token in the pixel's Settings tab."
            ),
            secret="access_token",
        ),
    ]
}


def get_spec(provider: str) -> ProviderSpec:
    try:
        return SPECS[str(provider)]
    except KeyError:
        raise InvalidInput(
            ["body", "provider"], f"unknown provider; use one of {', '.join(SPECS)}."
        ) from None


# --- settings every provider shares ---


def clean_conversion_events(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _fail(("conversion_events",), "must be a list of event names.")
    for name in value:
        if name not in StandardEvent.values:
            raise _fail(
                ("conversion_events",),
                f"unknown event {str(name)[:40]!r}; use {', '.join(StandardEvent.values)}.",
            )
    # Canonical order, no duplicates: equal settings serialize equally (stable ETags).
    return [name for name in StandardEvent.values if name in value]


def _clean_bool(value: Any, loc: tuple[str, ...]) -> bool:
    if not isinstance(value, bool):
        raise _fail(loc, "must be true or false.")
    return value


def _clean_test_event_code(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not TEST_EVENT_CODE_RE.fullmatch(value.strip()):
        raise _fail(("test_event_code",), "must be up to 50 letters, digits, '_' or '-'.")
    return value.strip()


JS_SAFE_INTEGER = 2**53 - 1
# Names that would reach into a JavaScript object's prototype when tracker.js merges them.
RESERVED_JS_NAMES = frozenset({"__proto__", "constructor", "prototype"})


def _clean_scalar(value: Any, loc: tuple[str, ...]) -> str | int | float | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # JavaScript numbers hold integers exactly only up to 2**53.
        if abs(value) > JS_SAFE_INTEGER:
            raise _fail(loc, f"must be between -{JS_SAFE_INTEGER} and {JS_SAFE_INTEGER}.")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(loc, "must be a finite number.")
        return value
    if isinstance(value, str):
        if len(value) > CUSTOM_PARAM_VALUE_MAX_CHARS:
            raise _fail(loc, f"must be at most {CUSTOM_PARAM_VALUE_MAX_CHARS} characters.")
        return value
    raise _fail(loc, "must be a string, number or boolean (no nested objects or lists).")


def clean_custom_params(value: Any) -> dict[str, str | int | float | bool]:
    loc = ("custom_params",)
    if not isinstance(value, dict):
        raise _fail(loc, "must be a flat object of names to scalar values.")
    if len(value) > CUSTOM_PARAMS_MAX_COUNT:
        raise _fail(loc, f"at most {CUSTOM_PARAMS_MAX_COUNT} parameters.")
    cleaned = {}
    for key, item in value.items():
        if not CUSTOM_PARAM_KEY_RE.fullmatch(key) or key in RESERVED_JS_NAMES:
            raise _fail(
                (*loc, key[:CUSTOM_PARAM_KEY_MAX_CHARS]),
                f"names are letters, digits and '_', at most {CUSTOM_PARAM_KEY_MAX_CHARS}.",
            )
        cleaned[key] = _clean_scalar(item, (*loc, key))
    return cleaned


def _clean_secret(spec: ProviderSpec, name: str, value: Any) -> str | None:
    if spec.secret != name:
        instead = f"; they use {spec.secret}" if spec.secret else ""
        raise _fail((name,), f"{spec.provider.label} codes do not use {name}{instead}.")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > SECRET_MAX_CHARS or not value.strip():
        raise _fail((name,), f"must be a non-empty string of at most {SECRET_MAX_CHARS} chars.")
    return value.strip()


COMMON_FIELDS = ("conversion_events", "advanced_matching", "test_event_code", "custom_params")


def clean_settings(provider: str, raw: Any) -> CleanSettings:
    """Validate and normalize the settings of a `provider` code; raise InvalidInput naming
    the first bad field. Unknown keys are rejected so that a typo is not silently ignored."""
    spec = get_spec(provider)
    if not isinstance(raw, dict):
        raise InvalidInput(list(SETTINGS_LOC), "must be an object.")
    # The admin's raw JSON reaches here without the API's middleware: refuse what the
    # database cannot store (a lone surrogate in a custom param) before it fails a write.
    if unstorable := find_unstorable(raw):
        path, char = unstorable
        raise _fail(tuple(str(part) for part in path), describe_unstorable(char))
    known = {spec.id_field, *COMMON_FIELDS, *spec.extra_fields, *SECRET_NAMES}
    for key in raw:
        if key not in known:
            raise _fail((str(key)[:60],), f"unknown setting for {spec.provider.label}.")

    settings: dict[str, Any] = {
        spec.id_field: spec.clean_id(raw.get(spec.id_field)),
        "conversion_events": clean_conversion_events(
            raw.get("conversion_events", list(StandardEvent.values))
        ),
        "advanced_matching": _clean_bool(
            raw.get("advanced_matching", False), ("advanced_matching",)
        ),
        "test_event_code": _clean_test_event_code(raw.get("test_event_code")),
        "custom_params": clean_custom_params(raw.get("custom_params", {})),
    }
    for name, cleaner in spec.extra_fields.items():
        if raw.get(name) not in (None, "", {}):
            settings[name] = cleaner(raw[name], (name,))
    secrets = {name: _clean_secret(spec, name, raw[name]) for name in SECRET_NAMES if name in raw}
    return CleanSettings(settings=settings, secrets=secrets)


def server_side_ready(spec: ProviderSpec, settings: Mapping[str, Any], has_secret: bool) -> bool:
    """Whether a code with these settings can send conversions server-side."""
    return (
        spec.secret is not None
        and has_secret
        and all(settings.get(name) for name in spec.server_side_settings)
    )
