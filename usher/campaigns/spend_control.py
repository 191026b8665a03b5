"""Spend control: turns the allocator's wishes into budgets set on the platforms without
ever letting what is spent plus what the platforms may still spend exceed the budget.

The invariant, per campaign: its open commitment in the ledger (committed - released -
spent) is at least what its platform may still spend under the settings in force. So:

- raising a campaign's exposure (a higher budget, a resume, a publish) first commits
  the money in its own transaction under the budget's row lock, and only then calls the
  platform; a crash in between leaves money reserved, never unreserved;
- lowering it (a lower budget, a pause) calls the platform first and releases the money
  afterwards, and only if no other worker raised the campaign in between
  (`budget_version` compare-and-set); otherwise the money stays reserved;
- whatever is set, what the platform may have spent and not reported yet stays
  reserved (`unreported_hold`) until the account's reports reach past the change.

Two workers therefore cannot commit more than the remainder: each commitment is checked
against the balance read under the same lock. The arithmetic is `spend_safety` (pure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from usher.campaigns import allocation, ledger
from usher.campaigns.accounts import contract_account, record_health
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import (
    ZERO,
    AdAccount,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignMetrics,
    CampaignOverride,
    CampaignStatus,
    DecisionKind,
    OverrideKind,
)
from usher.campaigns.specs import campaign_spec, catalog_choice, published_of, store_published
from usher.campaigns.spend_safety import (
    BudgetMode,
    BudgetSetting,
    CampaignNeed,
    OverdeliveryRule,
    can_fund_a_minimum,
    ceil_cents,
    daily_budget_multiplier,
    daily_exposure,
    flight_weeks,
    lifetime_pace,
    plan_budgets,
    rolled_end,
    todays_unreported_bound,
    unreported_bound,
)
from usher.lib.timezones import local_date, zone_named
from usher.platforms import campaigns_base as contract
from usher.platforms.base import PlatformError
from usher.platforms.registry import get_campaigns_connector

logger = logging.getLogger("usher.campaigns")

# The latest the platforms report an hour's spend (Google: up to a day). A change's hold
# is kept until the account reported a later hour, or a call to it succeeded this long
# after the change (an account with nothing else delivering reports no later hour).
REPORTS_SETTLE = timedelta(hours=24)


def overdelivery_rule(connector: contract.CampaignsConnector) -> OverdeliveryRule:
    return OverdeliveryRule(
        Decimal(connector.daily_overdelivery_factor),
        None
        if connector.weekly_overdelivery_factor is None
        else Decimal(connector.weekly_overdelivery_factor),
    )


def active_overrides(campaign: AutomatedCampaign) -> dict[str, CampaignOverride]:
    rows = CampaignOverride.objects.filter(campaign=campaign, lifted_at__isnull=True)
    return {row.kind: row for row in rows}


def active_overrides_by_campaign(
    campaigns: list[AutomatedCampaign],
) -> dict[int, dict[str, CampaignOverride]]:
    """`active_overrides` of several campaigns (by id) in one query."""
    found: dict[int, dict[str, CampaignOverride]] = {c.pk: {} for c in campaigns}
    for row in CampaignOverride.objects.filter(campaign__in=campaigns, lifted_at__isnull=True):
        found[row.campaign_id][row.kind] = row
    return found


def desired_daily(
    campaign: AutomatedCampaign, overrides: dict[str, CampaignOverride] | None = None
) -> Decimal:
    """What the campaign should get per day: a staff override wins over the allocator.
    (`overrides`: its active ones, when the caller read them already.)"""
    if overrides is None:
        overrides = active_overrides(campaign)
    if OverrideKind.PAUSE in overrides:
        return ZERO
    if OverrideKind.DAILY_BUDGET in overrides:
        return overrides[OverrideKind.DAILY_BUDGET].daily_budget or ZERO
    return campaign.desired_daily_budget


def platform_minimum(connector: contract.CampaignsConnector, currency: str) -> Decimal:
    """The platform's daily minimum; a currency the connector knows none for can fund
    nothing (rather than guess a minimum the platform would refuse)."""
    try:
        return connector.minimum_daily_budget(currency)
    except ValueError:
        return Decimal("Infinity")


def rolls_end(connector: contract.CampaignsConnector) -> bool:
    """Whether the platform serves nothing past a campaign's end time and lets Usher
    move it (the contract's optional `end_time_bounds_daily_budget`)."""
    return getattr(connector, "end_time_bounds_daily_budget", False)


def planned_end(
    campaign: AutomatedCampaign, connector: contract.CampaignsConnector, now: datetime
) -> datetime | None:
    """The end time the campaign's platform should have now: the flight's, or on a
    platform whose end time bounds a daily budget, the rolled one (`rolled_end`)."""
    if campaign.ends_at is None or not rolls_end(connector):
        return campaign.ends_at
    return rolled_end(now, campaign.ends_at, campaign.ad_account.timezone)


def end_in_force(campaign: AutomatedCampaign) -> datetime | None:
    """The end time the platform has: the one spend control last set, else the flight's
    (what the campaign was published with)."""
    return campaign.platform_ends_at or campaign.ends_at


def account_day(campaign: AutomatedCampaign, now: datetime) -> date:
    """Today in the campaign's ad account's time zone: the platform's day."""
    return local_date(now, campaign.ad_account.timezone)


def days_highest_budget(campaign: AutomatedCampaign, today: date) -> Decimal:
    """The highest daily budget in force on the account's `today`: the one running now
    (in force since midnight or since it was set today) or a higher one set earlier
    today (`day_high_budget`)."""
    running = (
        campaign.daily_budget or ZERO
        if campaign.status == CampaignStatus.ACTIVE and campaign.lifetime_budget is None
        else ZERO
    )
    earlier = campaign.day_high_budget if campaign.day_high_on == today else None
    return max(running, earlier or ZERO)


def campaign_need(
    campaign: AutomatedCampaign,
    connector: contract.CampaignsConnector,
    now: datetime,
    desired: Decimal | None = None,
    lifetime_spent: Decimal | None = None,
    spent_today: Decimal | None = None,
    spent_yesterday: Decimal | None = None,
) -> CampaignNeed:
    """What spend control needs to know of one campaign; `desired`, `lifetime_spent`,
    `spent_today` and `spent_yesterday` are read from the database unless the caller
    read them already (for many at once)."""
    zone = campaign.ad_account.timezone
    today = account_day(campaign, now)
    rule = overdelivery_rule(connector)
    end = planned_end(campaign, connector, now)
    # No end: no finite exposure, so spend control never funds it.
    weeks = flight_weeks(now, end, zone) if end else []
    in_force = end_in_force(campaign)
    locked_once_live = getattr(connector, "budget_type_locked_once_live", False)
    need = CampaignNeed(
        key=campaign.pk,
        desired_daily_budget=desired_daily(campaign) if desired is None else desired,
        days_left=sum(weeks),
        daily_multiplier=daily_budget_multiplier(rule, weeks),
        multiplier_in_force=daily_budget_multiplier(rule, flight_weeks(now, in_force, zone))
        if in_force is not None and in_force != end
        else None,
        minimum_daily_budget=platform_minimum(connector, campaign.ad_account.currency),
        lifetime_spent=ledger.spent_on(campaign) if lifetime_spent is None else lifetime_spent,
        mode=BudgetMode.LIFETIME if campaign.lifetime_budget is not None else BudgetMode.DAILY,
        # Only a hard cap counts as one (Google spreads a lifetime amount into a daily
        # budget that over-delivers); some platforms fix the budget type once live.
        # The contract's optional flags, read as it says (absent means False).
        can_use_lifetime=getattr(connector, "lifetime_budget_hard_cap", False)
        and (campaign.status != CampaignStatus.ACTIVE or not locked_once_live),
        type_fixed_at_publish=not campaign.external_campaign_id and locked_once_live,
        day_high=days_highest_budget(campaign, today),
        day_factor=rule.daily_factor,
        spent_today=ledger.spent_on(campaign, today) if spent_today is None else spent_today,
    )
    hold = pending_hold(campaign, need.lifetime_spent, now)
    if campaign.status != CampaignStatus.ACTIVE:
        return replace(need, unreported_hold=hold)
    if campaign.lifetime_budget is not None:
        pace = lifetime_pace(need, campaign.lifetime_budget)
        need = replace(need, day_high=max(need.day_high, pace))
    else:
        earlier = yesterdays_unreported(campaign, rule, today, now, spent_yesterday)
        need = replace(need, earlier_days_unreported=earlier)
    return replace(
        need, unreported_hold=max(hold, unreported_bound(need, campaign.lifetime_budget))
    )


def previous_days_high(campaign: AutomatedCampaign, today: date) -> Decimal:
    """The highest daily budget in force on the account's yesterday: the day's recorded
    high, the one kept when today's changes moved it, or (no change since) the budget in
    force."""
    yesterday = today - timedelta(days=1)
    if campaign.day_high_on == yesterday:
        return campaign.day_high_budget or ZERO
    if campaign.day_high_on == today:
        return campaign.previous_day_high_budget or ZERO
    return campaign.daily_budget or ZERO


def yesterdays_unreported(
    campaign: AutomatedCampaign,
    rule: OverdeliveryRule,
    today: date,
    now: datetime,
    spent_yesterday: Decimal | None = None,
) -> Decimal:
    """What a live daily budget may have spent yesterday and not reported yet: the rest
    of yesterday's cap (`daily_factor x` its highest budget), until the account reports
    an hour of today. Lifetime budgets need none: their rest counts all unreported spend."""
    cap = rule.daily_factor * previous_days_high(campaign, today)
    if cap <= 0:
        return ZERO
    yesterday = today - timedelta(days=1)
    if spent_yesterday is None:
        spent_yesterday = ledger.spent_on(campaign, yesterday)
    rest = cap - spent_yesterday
    if rest <= 0:
        return ZERO
    if _reported_past(campaign.ad_account, _midnight(campaign.ad_account, today), now):
        return ZERO
    return ceil_cents(rest)


def pending_hold(campaign: AutomatedCampaign, lifetime_spent: Decimal, now: datetime) -> Decimal:
    """What the campaign may still report of its hours before spend control last changed
    it (`unreported_ceiling`), until the account's reports reach past the change; once
    they reach past the midnight before it, only the change's own day may still report
    (`unreported_day_ceiling`).

    A change at 06:00 held the rest of yesterday's cap too until the reports passed
    06:00, hours after they had passed midnight and shown what yesterday spent."""
    since = campaign.unreported_since
    if since is None or campaign.unreported_ceiling is None:
        return ZERO
    rest = campaign.unreported_ceiling - lifetime_spent
    account = campaign.ad_account
    if rest <= 0 or _reported_past(account, since, now):
        return ZERO
    if campaign.unreported_day_ceiling is None:
        return rest
    day = local_date(since, account.timezone)
    if not _reported_past(account, _midnight(account, day), now):
        return rest
    return min(rest, max(campaign.unreported_day_ceiling - ledger.spent_on(campaign, day), ZERO))


def _midnight(account: AdAccount, day: date) -> datetime:
    """The first moment of `day` in the account's time zone (the platform's day)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone_named(account.timezone))


def _reported_past(account: AdAccount, moment: datetime, now: datetime) -> bool:
    """Whether the account's reports cover every hour before `moment`: it reported an
    hour starting at or after it (hourly rows come for hours that delivered), or a call
    to it succeeded `REPORTS_SETTLE` after it."""
    settled = moment + REPORTS_SETTLE
    if now >= settled and account.last_success_at and account.last_success_at >= settled:
        return True
    local = moment.astimezone(zone_named(account.timezone))
    first = local.replace(minute=0, second=0, microsecond=0)  # the first hour starting
    if first < local:  # at or after the moment, in the account's wall-clock hours
        first += timedelta(hours=1)
    return CampaignMetrics.objects.filter(
        Q(date__gt=first.date()) | Q(date=first.date(), hour__gte=first.hour),
        campaign__ad_account=account,
        level=contract.MetricsLevel.CAMPAIGN,
        hour__isnull=False,
        spend__gt=0,
    ).exists()


def current_exposure(campaign: AutomatedCampaign, need: CampaignNeed) -> Decimal:
    """What the platform may still spend under the campaign's settings in force, and at
    least what it may still report of hours already past (`unreported_hold`)."""
    if campaign.status != CampaignStatus.ACTIVE:
        return need.unreported_hold
    if campaign.lifetime_budget is not None:
        in_force = max(campaign.lifetime_budget - need.lifetime_spent, ZERO)
    else:
        in_force = daily_exposure(need, campaign.daily_budget or ZERO, need.multiplier_in_force)
    return max(in_force, need.unreported_hold)


@dataclass(frozen=True)
class Applied:
    campaign_id: int
    setting: BudgetSetting
    ok: bool
    reason: str = ""
    error: PlatformError | None = None


def reserve(budget_id: int, campaign_id: int, exposure: Decimal) -> bool:
    """Commit money so that `campaign_id` may expose `exposure`, if the remainder allows;
    one transaction under the budget's lock. Returns whether it was reserved."""
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        campaign = AutomatedCampaign.objects.select_for_update().get(pk=campaign_id)
        current = ledger.balances(budget)
        open_now = current.outstanding_by_campaign.get(campaign_id, ZERO)
        if exposure <= open_now:
            return True
        if budget.status != BudgetStatus.ACTIVE or exposure - open_now > current.available:
            return False
        ledger.commit_to(budget, campaign, exposure, note="reserved before a platform change")
        campaign.budget_version += 1
        campaign.save(update_fields=["budget_version", "updated_at"])
    return True


def release(budget_id: int, campaign_id: int, exposure: Decimal, seen_version: int) -> bool:
    """Lower the campaign's commitment to `exposure` after its platform confirmed the
    lower setting, unless someone raised it since `seen_version`."""
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        campaign = AutomatedCampaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.budget_version != seen_version:
            return False
        delta = ledger.commit_to(budget, campaign, exposure, note="released after a change")
        if delta:
            campaign.budget_version += 1
            campaign.save(update_fields=["budget_version", "updated_at"])
    return True


def _set_on_platform(
    campaign: AutomatedCampaign,
    connector: contract.CampaignsConnector,
    setting: BudgetSetting,
    now: datetime,
) -> str:
    """Apply the setting; when this publishes, what the campaign runs on (the catalog
    note of a dynamic remarketing campaign), else empty."""
    account = contract_account(campaign.ad_account)
    if not campaign.external_campaign_id:
        # Publishing: idempotent by the campaign's reference on the platform's side, and
        # the ids are stored before anything else can fail.
        choice = catalog_choice(campaign, connector)
        if choice is not None:
            logger.info("dynamic remarketing campaign=%s: %s", campaign.pk, choice.note)
        end = planned_end(campaign, connector, now)
        spec = campaign_spec(campaign, setting, now, end, choice.catalog if choice else None)
        published = connector.publish(account, spec)
        store_published(campaign, published)
        _store_end(campaign, connector, end)
        connector.set_status(account, published, True)
        return choice.note if choice else ""
    published = published_of(campaign)
    if setting.mode == BudgetMode.PAUSED:
        if campaign.status == CampaignStatus.ACTIVE:
            connector.set_status(account, published, False)
        return ""
    end = planned_end(campaign, connector, now)
    if end is not None and end != end_in_force(campaign):
        connector.set_end_time(account, published, end)  # type: ignore[attr-defined]
        _store_end(campaign, connector, end)
    if edits_budget(campaign, setting):
        connector.set_budget(
            account,
            published,
            daily_budget=setting.daily_budget,
            lifetime_budget=setting.lifetime_budget,
        )
    if campaign.status != CampaignStatus.ACTIVE:
        connector.set_status(account, published, True)
    return ""


def edits_budget(campaign: AutomatedCampaign, setting: BudgetSetting) -> bool:
    """Whether applying `setting` changes the budget of the campaign on its platform."""
    return (
        bool(campaign.external_campaign_id)
        and setting.mode != BudgetMode.PAUSED
        and (setting.daily_budget, setting.lifetime_budget)
        != (campaign.daily_budget, campaign.lifetime_budget)
    )


def recent_budget_changes(campaign: AutomatedCampaign, now: datetime) -> list[str]:
    """The campaign's budget changes on its platform within the hour before `now`."""
    hour_ago = now - timedelta(hours=1)
    return [at for at in campaign.budget_changes if datetime.fromisoformat(at) > hour_ago]


def budget_change_waits(
    campaign: AutomatedCampaign,
    connector: contract.CampaignsConnector,
    raises: bool,
    now: datetime,
) -> bool:
    """Whether a budget change must wait for an older one to leave the platform's hourly
    window (`budget_changes_per_hour`, Meta's 4): a call now would be refused, and the
    refusal shown to staff as the account's error. A raise also leaves the hour's last
    change to a cut, which frees money."""
    limit = getattr(connector, "budget_changes_per_hour", None)
    if limit is None:
        return False
    return len(recent_budget_changes(campaign, now)) >= limit - (1 if raises else 0)


def _store_end(
    campaign: AutomatedCampaign, connector: contract.CampaignsConnector, end: datetime | None
) -> None:
    """Keep the end time just set on a platform that rolls it, as soon as it is set: the
    exposure in force is counted up to it."""
    if rolls_end(connector):
        AutomatedCampaign.objects.filter(pk=campaign.pk).update(platform_ends_at=end)
        campaign.platform_ends_at = end


def _record_result(
    campaign: AutomatedCampaign,
    need: CampaignNeed,
    setting: BudgetSetting,
    reason: str,
    now: datetime,
    published_as: str = "",
    budget_changed: bool = False,
) -> None:
    paused = setting.mode == BudgetMode.PAUSED
    fields: dict[str, object] = {
        "status": CampaignStatus.PAUSED if paused else CampaignStatus.ACTIVE,
        "auto_paused": paused,
        "status_reason": reason if paused else "",
        "last_error": "",
        "updated_at": now,
    }
    if not paused:
        fields.update(daily_budget=setting.daily_budget, lifetime_budget=setting.lifetime_budget)
    if budget_changed:
        fields["budget_changes"] = [*recent_budget_changes(campaign, now), now.isoformat()]
    if campaign.status == CampaignStatus.ACTIVE:
        # The platform spent under the old settings until now, reported or not.
        fields.update(
            unreported_ceiling=need.lifetime_spent + need.unreported_hold,
            unreported_day_ceiling=need.spent_today
            + todays_unreported_bound(need, campaign.lifetime_budget),
            unreported_since=now,
        )
    day_budget = setting.daily_budget
    if setting.lifetime_budget is not None:
        day_budget = lifetime_pace(need, setting.lifetime_budget)
    if day_budget is not None:
        today = account_day(campaign, now)
        if campaign.day_high_on != today:  # the day moves: keep yesterday's high
            fields["previous_day_high_budget"] = previous_days_high(campaign, today)
        fields.update(
            day_high_budget=ceil_cents(max(days_highest_budget(campaign, today), day_budget)),
            day_high_on=today,
        )
    if campaign.status == CampaignStatus.APPROVED:
        fields.update(published_at=now, started_at=campaign.started_at or now)
        log_decision(
            campaign.budget,
            DecisionKind.PUBLISH,
            f"published on {campaign.platform}" + (f": {published_as}" if published_as else ""),
            campaign=campaign,
            numbers={
                "daily_budget": setting.daily_budget,
                "lifetime_budget": setting.lifetime_budget,
                "reserved": setting.exposure,
            },
        )
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(**fields)


def _fail(campaign: AutomatedCampaign, error: PlatformError) -> None:
    """The platform refused the campaign for good: nothing of it spends (a refused
    publish leaves at most paused objects), so its money is released."""
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.FAILED,
        last_error=str(error)[:2000],
        status_reason=error.message[:500],
    )
    version = AutomatedCampaign.objects.values_list("budget_version", flat=True).get(pk=campaign.pk)
    release(campaign.budget_id, campaign.pk, ZERO, version)


def apply_setting(
    campaign: AutomatedCampaign,
    connector: contract.CampaignsConnector,
    need: CampaignNeed,
    setting: BudgetSetting,
    *,
    reason: str,
    now: datetime | None = None,
) -> Applied:
    """Put one campaign's new setting on its platform (publishing it if it is approved
    and not yet there), reserving before raising and releasing after lowering."""
    now = now or timezone.now()
    unpublished = not campaign.external_campaign_id
    if unpublished and setting.mode == BudgetMode.PAUSED:
        AutomatedCampaign.objects.filter(pk=campaign.pk).update(
            status_reason="waiting for funds: the remainder cannot fund its minimum budget"
        )
        return Applied(campaign.pk, setting, False, "not funded")
    before = current_exposure(campaign, need)
    budget_changed = edits_budget(campaign, setting)
    raises = setting.exposure > before
    if budget_changed and budget_change_waits(campaign, connector, raises, now):
        # The settings in force stay, and so does their reservation: safe.
        return Applied(campaign.pk, setting, False, "the platform's hourly budget changes are used")
    if raises and not reserve(campaign.budget_id, campaign.pk, setting.exposure):
        return Applied(campaign.pk, setting, False, "the remainder does not cover it")
    seen_version = AutomatedCampaign.objects.values_list("budget_version", flat=True).get(
        pk=campaign.pk
    )
    try:
        published_as = _set_on_platform(campaign, connector, setting, now)
    except PlatformError as exc:
        record_health(campaign.ad_account, exc)
        if unpublished and exc.permanent:
            _fail(campaign, exc)
        # A failed raise keeps its reservation, a failed cut keeps the old one: safe.
        return Applied(campaign.pk, setting, False, str(exc), exc)
    record_health(campaign.ad_account)
    _record_result(campaign, need, setting, reason, now, published_as, budget_changed)
    release(campaign.budget_id, campaign.pk, setting.exposure, seen_version)
    return Applied(campaign.pk, setting, True)


def is_steady(
    campaign: AutomatedCampaign, need: CampaignNeed, setting: BudgetSetting, reason: str
) -> bool:
    """Whether `setting` is what the campaign already runs with, so applying it would
    call no platform and change nothing but the campaign's open commitment: published,
    the same status, budgets, end time and reason, no error to clear, and no more
    exposure than the settings in force (a raise always goes through `reserve`). Most
    campaigns are steady in most rebalances (one after every metrics round)."""
    if not campaign.external_campaign_id or campaign.last_error:
        return False
    if setting.exposure > current_exposure(campaign, need):
        return False
    if setting.mode != BudgetMode.PAUSED and need.multiplier_in_force is not None:
        return False  # its end time is to move
    if setting.mode == BudgetMode.PAUSED:
        return (
            campaign.status == CampaignStatus.PAUSED
            and campaign.auto_paused
            and campaign.status_reason == reason
        )
    return (
        campaign.status == CampaignStatus.ACTIVE
        and not campaign.auto_paused
        and not campaign.status_reason
        and (setting.daily_budget, setting.lifetime_budget)
        == (campaign.daily_budget, campaign.lifetime_budget)
    )


def settle_steady(
    budget_id: int, exposures: dict[AutomatedCampaign, Decimal], now: datetime
) -> None:
    """Bring steady campaigns' open commitments to their settings' exposure (spend
    reported since lowered them; a lower exposure frees money) in one transaction
    under the budget's lock, as `release` does one by one after a platform change: a
    campaign changed by someone else since it was read (`budget_version`) is theirs."""
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        versions = dict(
            AutomatedCampaign.objects.select_for_update()
            .filter(pk__in=[c.pk for c in exposures])
            .values_list("pk", "budget_version")
        )
        unchanged = {c: e for c, e in exposures.items() if versions.get(c.pk) == c.budget_version}
        changed = ledger.settle_commitments(budget, unchanged, note="settled: setting unchanged")
        if changed:
            AutomatedCampaign.objects.filter(pk__in=changed).update(
                budget_version=F("budget_version") + 1, updated_at=now
            )


def controlled_campaigns(budget: AdCampaignBudget) -> list[AutomatedCampaign]:
    """The campaigns spend control steers: live ones, those it paused itself, and
    approved ones waiting to be published."""
    live = Q(status=CampaignStatus.ACTIVE) | Q(status=CampaignStatus.PAUSED, auto_paused=True)
    return list(
        budget.campaigns.filter(
            (live & ~Q(external_campaign_id="")) | Q(status=CampaignStatus.APPROVED)
        )
        .select_related("ad_account", "budget", "organizer", "client")
        .order_by("pk")
    )


@dataclass(frozen=True)
class RebalanceResult:
    applied: list[Applied]
    exhausted: bool


def rebalance_budget(budget_id: int, *, now: datetime | None = None) -> RebalanceResult:
    """Set every live campaign of the budget to what spend control allows now: lower
    ones first (their money is then free), raised ones after; pause everything when
    nothing can be funded any more (exhaustion)."""
    now = now or timezone.now()
    budget = AdCampaignBudget.objects.select_related("client").get(pk=budget_id)
    campaigns = controlled_campaigns(budget)
    balances = ledger.balances(budget)
    steered = {c.pk for c in campaigns}
    others = _settle_others(budget, balances.outstanding_by_campaign, steered, now)
    if not campaigns:
        return RebalanceResult([], False)
    connectors = {c.pk: get_campaigns_connector(c.platform) for c in campaigns}
    funded = budget.status == BudgetStatus.ACTIVE
    overrides = active_overrides_by_campaign(campaigns)
    spent = ledger.spent_by_campaign(campaigns)
    days = {c.pk: account_day(c, now) for c in campaigns}
    spent_today = ledger.spent_on_days(days)
    spent_yesterday = ledger.spent_on_days({k: day - timedelta(days=1) for k, day in days.items()})
    needs = {
        c.pk: campaign_need(
            c,
            connectors[c.pk],
            now,
            desired_daily(c, overrides[c.pk]) if funded else ZERO,
            lifetime_spent=spent.get(c.pk, ZERO),
            spent_today=spent_today.get(c.pk, ZERO),
            spent_yesterday=spent_yesterday.get(c.pk, ZERO),
        )
        for c in campaigns
    }
    available = balances.remaining - sum(others.values(), ZERO)
    plan = plan_budgets(available, list(needs.values()))
    by_campaign = {c.pk: c for c in campaigns}
    ordered = sorted(
        plan, key=lambda s: s.exposure > current_exposure(by_campaign[s.key], needs[s.key])
    )
    wanting = [k for k, n in needs.items() if n.desired_daily_budget > 0 and n.days_left > 0]
    exhausted = (
        funded
        and bool(wanting)
        and all(s.mode == BudgetMode.PAUSED for s in plan if s.key in wanting)
        and not can_fund_a_minimum(available, [needs[k] for k in wanting])
    )
    reason = "budget exhausted" if exhausted else "spend control"
    steady = {s.key for s in plan if is_steady(by_campaign[s.key], needs[s.key], s, reason=reason)}
    if steady:
        settle_steady(
            budget.pk, {by_campaign[s.key]: s.exposure for s in plan if s.key in steady}, now
        )
    applied = [
        Applied(s.key, s, True)
        if s.key in steady
        else apply_setting(
            by_campaign[s.key], connectors[s.key], needs[s.key], s, reason=reason, now=now
        )
        for s in ordered
    ]
    for result in applied:
        campaign = by_campaign[result.campaign_id]
        ended = campaign.ends_at is not None and campaign.ends_at <= now
        was_live = campaign.status == CampaignStatus.ACTIVE
        if result.setting.mode != BudgetMode.PAUSED or not result.ok or not was_live:
            continue
        log_decision(
            budget,
            DecisionKind.STATUS if ended else DecisionKind.SPEND_CAP,
            "completed: the flight ended" if ended else f"paused: {reason}",
            campaign=campaign,
            numbers={"remaining": balances.remaining},
        )
    _complete_ended(campaigns, [by_campaign[a.campaign_id] for a in applied if a.ok], now)
    if exhausted:
        _mark_exhausted(budget.pk, balances.remaining)
    return RebalanceResult(applied, exhausted)


def _settle_others(
    budget: AdCampaignBudget, outstanding: dict[int, Decimal], steered: set[int], now: datetime
) -> dict[int, Decimal]:
    """The open commitments of the budget's campaigns spend control does not steer
    (paused by staff, completed, failed), brought down to what their platforms may still
    report (`pending_hold`) as the reports come in: their money is free once reported."""
    campaigns = AutomatedCampaign.objects.select_related("ad_account").filter(
        pk__in=[k for k, v in outstanding.items() if k not in steered and v > 0]
    )
    spent = ledger.spent_by_campaign(list(campaigns))
    holds = {c: pending_hold(c, spent.get(c.pk, ZERO), now) for c in campaigns}
    lowered = {c: hold for c, hold in holds.items() if hold < outstanding[c.pk]}
    if lowered:
        settle_steady(budget.pk, lowered, now)
    return {c.pk: min(hold, outstanding[c.pk]) for c, hold in holds.items()}


def _complete_ended(
    controlled: list[AutomatedCampaign], paused: list[AutomatedCampaign], now: datetime
) -> None:
    """Campaigns whose flight is over (paused on their platform by this run, or never
    published: approved when the run read the `controlled` ones, and not published by
    it, since nothing is published past its end) are completed: spend control no longer
    steers them."""
    ended = [c.pk for c in paused if c.ends_at and c.ends_at <= now]
    ended += [
        c.pk
        for c in controlled
        if c.status == CampaignStatus.APPROVED and c.ends_at and c.ends_at <= now
    ]
    if ended:
        AutomatedCampaign.objects.filter(pk__in=ended).update(
            status=CampaignStatus.COMPLETED, auto_paused=False, status_reason="the flight ended"
        )


def _mark_exhausted(budget_id: int, remaining: Decimal) -> None:
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        if budget.status != BudgetStatus.ACTIVE:
            return
        budget.status = BudgetStatus.EXHAUSTED
        budget.status_reason = "the remainder cannot fund any campaign"
        budget.status_changed_at = timezone.now()
        budget.status_changed_by = None
        budget.save()
        log_decision(
            budget,
            DecisionKind.EXHAUSTION,
            budget.status_reason,
            numbers={"remaining": remaining},
            expected_effect="every campaign of the budget paused on its platform",
        )


def allocate_budget(budget_id: int, *, now: datetime | None = None) -> RebalanceResult:
    """The plan's `allocateBudget`: each live or approved campaign's wished daily budget
    by the budget's strategy (performance from Usher-attributed revenue over reported
    spend), stored as `desired_daily_budget`; then spend control re-paces the platforms.
    """
    now = now or timezone.now()
    budget = AdCampaignBudget.objects.get(pk=budget_id)
    campaigns = controlled_campaigns(budget)
    slots = []
    for c in campaigns:
        weeks = flight_weeks(now, c.ends_at, c.ad_account.timezone) if c.ends_at else []
        slots.append(allocation.CampaignSlot(c.pk, c.platform, sum(weeks), attributed_roas(c)))
    platforms = {
        name: allocation.PlatformShare(
            percentage=Decimal(spec["percentage"]) if "percentage" in spec else None,
            daily_limit=Decimal(spec["daily_limit"]) if spec.get("daily_limit") else None,
        )
        for name, spec in budget.platform_allocations.items()
    }
    wishes = allocation.allocate(
        budget.allocation_strategy,
        ledger.balances(budget).remaining,
        slots,
        platforms=platforms,
        daily_limit=budget.daily_budget_limit,
        target_roas=budget.target_roas,
    )
    for campaign in campaigns:
        wish = wishes[campaign.pk]
        if wish != campaign.desired_daily_budget:
            AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=wish)
            log_decision(
                budget,
                DecisionKind.REALLOCATION,
                f"{budget.allocation_strategy}: daily budget {campaign.desired_daily_budget} -> {wish}",
                campaign=campaign,
                numbers={"before": campaign.desired_daily_budget, "after": wish},
            )
    return rebalance_budget(budget_id, now=now)


# Below this much reported spend a campaign's ROAS is noise: the allocator treats it as new.
MIN_SPEND_FOR_ROAS = Decimal("20.00")


def attributed_roas(campaign: AutomatedCampaign) -> Decimal | None:
    """Usher-attributed revenue over the spend the platform reported (platforms
    over-count their own conversions, so their revenue is not used here)."""
    spent = ledger.spent_on(campaign)
    if spent < MIN_SPEND_FOR_ROAS:
        return None
    revenue = campaign.attributions.aggregate(total=Sum("value"))["total"] or ZERO
    return revenue / spent
