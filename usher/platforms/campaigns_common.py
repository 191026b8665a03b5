"""What the campaigns and insights connectors of every platform share.

- Management-call rate limits (issue 18): every publishing, steering, state, metrics or
  audience call takes a token from a Redis bucket per platform account and kind of
  call before it goes out, so Usher's jobs together stay inside each account's quota
  (`PLATFORM_MANAGEMENT_RATE_LIMITS`). A throttled caller gets a `RATE_LIMITED`
  `PlatformError` with `retry_after_seconds` and nothing is sent.
- Naming: every object Usher creates carries the spec's reference at the start of its
  name (`usher-c-42 · Rock Night [retargeting]`), so `publish` can find what an earlier,
  interrupted attempt created; the kind tag stays at the end for the market simulator.
- Money: platform units (minor units, micros) from and to `Decimal` major units,
  rounding budgets down so a conversion never raises what may be spent.
- Geography: country codes to each platform's location ids, and the EU for Meta's DSA.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.conf import settings

from usher.lib.http import PlatformResponse, get_client
from usher.lib.ratelimit import TokenBucket
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import AdAccount, MetricsLevel, MetricsRow

SECONDS_PER_HOUR = 3600
# A wait this short is slept inline (a burst just ran dry); longer ones go back to the
# caller as RATE_LIMITED, so a job reschedules instead of holding a worker.
MANAGEMENT_WAIT_INLINE_SECONDS = 2.0
NAME_SEPARATOR = " · "
MICROS_PER_UNIT = 1_000_000


class CallKind(StrEnum):
    """Kinds of management call, each with its own bucket per account.

    They follow the platforms' own quota families (Meta: ads_management for the first
    three, ads_insights for metrics, custom_audience for audiences, the Catalog Batch
    use case for catalogs), and keep one job
    from starving another: a metrics sync cannot use up the optimizer's writes.
    """

    PUBLISH = "publish"  # creating campaigns, ad groups, creatives and ads
    WRITE = "write"  # pause, resume, budget changes (optimizer and staff)
    READ = "read"  # state reads: review status, learning phase
    METRICS = "metrics"  # insights / GAQL / reports
    AUDIENCES = "audiences"  # audience creation and member syncs
    CATALOG = "catalog"  # catalog creation and item batches (Meta: catalog_management)


def management_bucket(platform: str, account_id: str, kind: CallKind) -> TokenBucket:
    """The shared bucket of one account's calls of one kind (all workers draw from it)."""
    limits: Mapping[str, Mapping[str, tuple[float, float]]] = (
        settings.PLATFORM_MANAGEMENT_RATE_LIMITS
    )
    per_hour, burst = limits[platform][kind]
    return TokenBucket(
        f"mgmt:{platform}:{account_id}:{kind}",
        rate_per_second=float(per_hour) / SECONDS_PER_HOUR,
        capacity=float(burst),
    )


def take_management_call(platform: str, account_id: str, kind: CallKind, calls: int = 1) -> None:
    """Take `calls` tokens or raise RATE_LIMITED (with retry_after) without sending."""
    bucket = management_bucket(platform, account_id, kind)
    wait = bucket.take(calls)
    if 0 < wait <= MANAGEMENT_WAIT_INLINE_SECONDS:
        time.sleep(wait)
        wait = bucket.take(calls)  # another worker may have taken them meanwhile
    if wait <= 0:
        return
    raise PlatformError(
        ErrorKind.RATE_LIMITED,
        f"Usher's {kind} call budget for {platform} account {account_id} is used up",
        platform=platform,
        retry_after_seconds=wait,
    )


def management_request(
    account: AdAccount,
    kind: CallKind,
    method: str,
    path: str,
    *,
    secrets: list[str],
    **kwargs: Any,
) -> PlatformResponse:
    """One management call through the HTTP chokepoint, after its rate-limit token."""
    take_management_call(account.platform, account.account_id, kind)
    return get_client(account.platform).request(method, path, secrets=secrets, **kwargs)


def require_token(account: AdAccount) -> str:
    """The account's management credential; AUTH before any call when there is none."""
    if not account.access_token:
        raise PlatformError(
            ErrorKind.AUTH,
            f"no campaign-management credential for {account.platform} account "
            f"{account.account_id}",
            platform=account.platform,
        )
    return account.access_token


def setting(account: AdAccount, key: str, what: str) -> str:
    """A required account setting (page id, pixel id...); PERMANENT before any call if absent."""
    value = str(account.settings.get(key) or "")
    if not value:
        raise PlatformError(
            ErrorKind.PERMANENT,
            f"{account.platform} account {account.account_id} has no {key} ({what})",
            platform=account.platform,
        )
    return value


def unexpected(platform: str, what: str) -> PlatformError:
    """A 2xx answer without what the platform documents: retrying may get a good one."""
    return PlatformError(ErrorKind.TRANSIENT, f"unexpected answer: {what}", platform=platform)


def one_budget(daily: Decimal | None, lifetime: Decimal | None) -> tuple[str, Decimal]:
    """("daily", amount) or ("lifetime", amount) for `set_budget`'s two keywords."""
    if daily is not None and lifetime is None:
        return "daily", daily
    if lifetime is not None and daily is None:
        return "lifetime", lifetime
    raise ValueError("give exactly one of daily_budget and lifetime_budget")


class BatchedInsights(ABC):
    """The part of `InsightsConnector.fetch_metrics` every platform shares: the date
    range checked, an empty campaign filter answered without a call, and rows of other
    campaigns dropped (some platforms ignore a filter they cannot apply). `read` is the
    platform's own batched, paged call(s) for one account and level."""

    def fetch_metrics(
        self,
        account: AdAccount,
        *,
        level: MetricsLevel,
        since: date,
        until: date,
        hourly: bool,
        campaign_ids: Sequence[str] | None = None,
    ) -> list[MetricsRow]:
        check_range(since, until)
        if campaign_ids is not None and not campaign_ids:
            return []
        rows = self.read(account, level, since, until, hourly, campaign_ids)
        wanted = set(campaign_ids) if campaign_ids is not None else None
        return [row for row in rows if wanted is None or row.campaign_id in wanted]

    @abstractmethod
    def read(
        self,
        account: AdAccount,
        level: MetricsLevel,
        since: date,
        until: date,
        hourly: bool,
        campaign_ids: Sequence[str] | None,
    ) -> list[MetricsRow]:
        """The account's rows at `level`, filtered to `campaign_ids` where possible."""


# --- Naming ---


def object_name(reference: str, label: str) -> str:
    """`<reference> · <label>`: the reference first, so a prefix finds it exactly."""
    return f"{reference}{NAME_SEPARATOR}{label}"


def is_named_for(name: Any, reference: str) -> bool:
    return isinstance(name, str) and name.startswith(f"{reference}{NAME_SEPARATOR}")


def ad_label(reference: str, creative_reference: str) -> str:
    return object_name(reference, f"ad {creative_reference}")


# --- Money ---

# ISO 4217 currencies without minor units, which Meta counts in whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)


def minor_exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """A budget in the currency's smallest unit, rounded down (never more than asked)."""
    exponent = minor_exponent(currency)
    return int((amount * (10**exponent)).to_integral_value(rounding=ROUND_DOWN))


def to_micros(amount: Decimal, currency: str) -> int:
    """Micros of a budget, a multiple of the currency's smallest unit (Google refuses
    others: NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT), rounded down."""
    unit = MICROS_PER_UNIT // (10 ** minor_exponent(currency))
    return to_minor_units(amount, currency) * unit


def from_micros(value: Any) -> Decimal:
    return decimal_or_zero(value) / MICROS_PER_UNIT


def decimal_or_zero(value: Any) -> Decimal:
    """A platform's number (string, int or float) as an exact Decimal; junk is 0."""
    if value in (None, ""):
        return Decimal("0")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return number if number.is_finite() else Decimal("0")


def int_or_zero(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def minimum_daily_budget(table: Mapping[str, Decimal], currency: str, platform: str) -> Decimal:
    """A platform's daily minimum in `currency`; ValueError for currencies Usher has none for."""
    try:
        return table[currency.upper()]
    except KeyError:
        raise ValueError(f"no known {platform} minimum daily budget in {currency!r}") from None


def round_down_to_cents(amount: Decimal) -> Decimal:
    """A budget in major units with two decimals, rounded down (never more than asked)."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


# --- Dates ---


def parse_day(value: Any) -> date | None:
    """The date at the start of "2026-05-01", "2026-05-01 13:00:00" or "2026-05-01T…"."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def check_range(since: date, until: date) -> None:
    if since > until:
        raise ValueError("since must not be after until")


# --- Geography ---

# The EU's member states: Meta requires DSA beneficiary and payor for ads shown there.
EU_COUNTRIES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
)

# ISO 3166-1 numeric codes: Google's country geo target constants are 2000 + this
# number (2642 = Romania, 2276 = Germany, 2840 = United States).
ISO_NUMERIC = {
    "AT": 40, "BE": 56, "BG": 100, "CH": 756, "CY": 196, "CZ": 203, "DE": 276, "DK": 208,
    "EE": 233, "ES": 724, "FI": 246, "FR": 250, "GB": 826, "GR": 300, "HR": 191, "HU": 348,
    "IE": 372, "IT": 380, "LT": 440, "LU": 442, "LV": 428, "MD": 498, "MT": 470, "NL": 528,
    "NO": 578, "PL": 616, "PT": 620, "RO": 642, "RS": 688, "SE": 752, "SI": 705, "SK": 703,
    "UA": 804, "US": 840, "CA": 124,
}  # fmt: skip

# TikTok location ids are GeoNames ids; these are the countries' GeoNames ids.
GEONAMES_COUNTRY_IDS = {
    "AT": 2782113, "BE": 2802361, "BG": 732800, "CH": 2658434, "CY": 146669, "CZ": 3077311,
    "DE": 2921044, "DK": 2623032, "EE": 453733, "ES": 2510769, "FI": 660013, "FR": 3017382,
    "GB": 2635167, "GR": 390903, "HR": 3202326, "HU": 719819, "IE": 2963597, "IT": 3175395,
    "LT": 597427, "LU": 2960313, "LV": 458258, "MD": 617790, "MT": 2562770, "NL": 2750405,
    "NO": 3144096, "PL": 798544, "PT": 2264397, "RO": 798549, "RS": 6290252, "SE": 2661886,
    "SI": 3190538, "SK": 3057568, "UA": 690791, "US": 6252001, "CA": 6251999,
}  # fmt: skip


def country_id(table: Mapping[str, int], country: str, platform: str) -> int:
    try:
        return table[country.upper()]
    except KeyError:
        raise PlatformError(
            ErrorKind.PERMANENT,
            f"Usher has no {platform} location id for country {country!r}",
            platform=platform,
        ) from None


def google_geo_target(country: str) -> str:
    return f"geoTargetConstants/{2000 + country_id(ISO_NUMERIC, country, 'google_ads')}"


def tiktok_location_id(country: str) -> str:
    return str(country_id(GEONAMES_COUNTRY_IDS, country, "tiktok"))


def targets_eu(countries: list[str]) -> bool:
    """True when the ads may be shown in the EU. Without countries (points and radii
    only) Usher cannot tell, so it assumes they may."""
    return not countries or any(country.upper() in EU_COUNTRIES for country in countries)
