"""Per-account switches for what real platforms do slowly or refuse, read from account settings.

A campaign product must see ads wait in review (and some be disapproved), Meta ad sets
learn, budget changes be limited, and audiences take hours to fill and report rounded
or unknown sizes. Each is on by default where the real platform does it, and can be
changed per account through `POST /_sandbox/accounts` `settings` (docs/sandbox.md).

Everything time-dependent is computed from the sandbox's notion of now
(`SandboxState.now()`), so moving the sandbox clock moves reviews, learning and audience
fills with it. The pure functions below take times and counts and return decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from usher.sandbox.meta_specs import DEFAULT_MINIMUM_BUDGETS
from usher.sandbox.validation import GOOGLE_CUSTOMER_ID, is_int, is_number

if TYPE_CHECKING:
    from usher.sandbox.state import SandboxState

AD_REVIEW_OUTCOMES = frozenset({"approve", "disapprove", "with_issues"})
# Meta reviews most ads within 24 h; an hour keeps a default run observable.
DEFAULT_AD_REVIEW_SECONDS = 3600
# Customer lists take hours to match (Meta: up to 24 h; Google: "hours") [U: exact times].
DEFAULT_AUDIENCE_FILL_SECONDS = 3 * 3600
# Meta: a lookalike takes 1-6 h to populate (docs/platforms.md, Meta: custom audiences).
DEFAULT_LOOKALIKE_FILL_SECONDS = 6 * 3600
# An ad set's budget may change 4 times an hour, then error 17 (docs/platforms.md, Meta:
# errors and rate limits).
DEFAULT_BUDGET_CHANGES_PER_HOUR = 4
# Meta: an ad set leaves learning after about 50 optimisation events within 7 days.
LEARNING_EXIT_CONVERSIONS = 50
LEARNING_WINDOW_SECONDS = 7 * 24 * 3600
# Below this, platforms hide an audience's size instead of reporting it [U: Meta and
# TikTok both show "below 1,000"-style answers; the exact cut-off is unverified].
SMALLEST_REPORTED_AUDIENCE = 1000
MAX_UNDECLARED_CAMPAIGNS = 100


@dataclass(frozen=True)
class Behaviour:
    """One account's switches; the defaults are what the real platforms do."""

    ad_review_seconds: float = DEFAULT_AD_REVIEW_SECONDS
    ad_review_outcome: str = "approve"
    learning_phase: bool = True
    budget_changes_per_hour: int | None = DEFAULT_BUDGET_CHANGES_PER_HOUR
    audience_fill_seconds: float = DEFAULT_AUDIENCE_FILL_SECONDS
    lookalike_fill_seconds: float = DEFAULT_LOOKALIKE_FILL_SECONDS
    rounded_audience_sizes: bool = True
    # Google: the Ads API's Customer Match is closed to new adopters since April 2026.
    customer_match_allowlisted: bool = False
    # Google: campaigns created before the EU political ads declaration existed; while
    # one is undeclared, the account's mutates are blocked.
    undeclared_campaigns: int = 0
    # Google: manager accounts the customer is reached through (login-customer-id).
    managers: tuple[str, ...] = ()


SWITCHES = frozenset(f.name for f in fields(Behaviour))


MINIMUM_BUDGET_KEYS = frozenset(DEFAULT_MINIMUM_BUDGETS)


def check_switches(settings: dict[str, Any]) -> None:
    """Raise ValueError naming the first switch with a value of the wrong kind."""
    minimums = settings.get("minimum_budgets")
    if minimums is not None and not (
        isinstance(minimums, dict)
        and set(minimums) <= MINIMUM_BUDGET_KEYS
        and all(is_int(v) and v > 0 for v in minimums.values())
    ):
        raise ValueError(
            "settings.minimum_budgets must map "
            f"{', '.join(sorted(MINIMUM_BUDGET_KEYS))} to positive integers (minor units)"
        )
    for name in SWITCHES & set(settings):
        value = settings[name]
        if name == "ad_review_outcome":
            if value not in AD_REVIEW_OUTCOMES:
                raise ValueError(
                    f"settings.{name} must be one of {', '.join(sorted(AD_REVIEW_OUTCOMES))}"
                )
        elif name in ("learning_phase", "rounded_audience_sizes", "customer_match_allowlisted"):
            if not isinstance(value, bool):
                raise ValueError(f"settings.{name} must be true or false")
        elif name == "managers":
            if not isinstance(value, list) or not all(
                isinstance(m, str) and GOOGLE_CUSTOMER_ID.match(m) for m in value
            ):
                raise ValueError(f"settings.{name} must be a list of 10-digit customer ids")
        elif name == "undeclared_campaigns":
            if not (is_int(value) and 0 <= value <= MAX_UNDECLARED_CAMPAIGNS):
                raise ValueError(
                    f"settings.{name} must be an integer from 0 to {MAX_UNDECLARED_CAMPAIGNS}"
                )
        elif name == "budget_changes_per_hour":
            if value is not None and not (is_int(value) and value >= 0):
                raise ValueError(f"settings.{name} must be a non-negative integer or null")
        elif not (is_number(value) and math.isfinite(value) and value >= 0):
            raise ValueError(f"settings.{name} must be a non-negative number of seconds")


def behaviour_of(settings: dict[str, Any] | None) -> Behaviour:
    """The switches of an account from its (already checked) settings."""
    chosen = {name: value for name, value in (settings or {}).items() if name in SWITCHES}
    if "managers" in chosen:
        chosen["managers"] = tuple(chosen["managers"])
    return Behaviour(**chosen)


def review_status(behaviour: Behaviour, submitted_at: float, now: float) -> str:
    """IN_REVIEW until the review time has passed, then the account's outcome."""
    if now < submitted_at + behaviour.ad_review_seconds:
        return "IN_REVIEW"
    return {"approve": "APPROVED", "disapprove": "DISAPPROVED", "with_issues": "WITH_ISSUES"}[
        behaviour.ad_review_outcome
    ]


# Ads in these review states are not served (the others deliver, WITH_ISSUES with limits).
UNSERVED_REVIEW_STATES = frozenset({"IN_REVIEW", "DISAPPROVED"})


def ad_is_served(state: SandboxState, platform: str, ad: dict[str, Any]) -> bool:
    """Whether the platform would serve the ad now, as far as its review goes."""
    behaviour = account_behaviour(state, platform, ad["account"])
    return review_status(behaviour, ad.get("created_at", 0.0), state.now()) not in (
        UNSERVED_REVIEW_STATES
    )


def learning_status(conversions: float, last_significant_edit: float, now: float) -> str:
    """Meta's learning_stage_info.status: SUCCESS past 50 events, FAIL after 7 days without."""
    if conversions >= LEARNING_EXIT_CONVERSIONS:
        return "SUCCESS"
    if now - last_significant_edit >= LEARNING_WINDOW_SECONDS:
        return "FAIL"
    return "LEARNING"


def reported_size(behaviour: Behaviour, members: int, ready: bool) -> int | None:
    """What the platform shows of an audience's size: None while unknown (filling or small).

    Sizes are rounded down to two significant digits, as the platforms show approximate
    counts rather than exact ones (so no one learns whether one person is in a list).
    """
    if not ready:
        return None
    if not behaviour.rounded_audience_sizes:
        return members
    if members < SMALLEST_REPORTED_AUDIENCE:
        return None
    step = 10 ** (len(str(members)) - 2)
    return members // step * step


def size_step(size: int) -> int:
    """The rounding step of a reported size (for a range's upper bound)."""
    return 10 ** max(0, len(str(size)) - 2)


def account_behaviour(state: SandboxState, platform: str, account_id: str | None) -> Behaviour:
    """The switches of one platform account (defaults when it was never registered)."""
    registered = state.account(platform, account_id) if account_id else None
    return behaviour_of(registered.settings if registered else None)
