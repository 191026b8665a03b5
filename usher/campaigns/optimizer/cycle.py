"""The hourly optimization cycle: one budget's state in, decisions and advice out.

Every hour: the spend ledger (what money is still free), the guard rails (CPA, ROAS)
and creative tests on fully reported days, and a safety cut if budgets in force could
spend more than is free. Once a day, as soon as yesterday is fully reported: the
rebalance. It fits each campaign's response curve (learner), the event's demand
pattern (pooled), then plans the money left over the remaining days on the
posterior-mean curves (the Bayes-optimal plan for what is known; it starts from equal
split, since the prior is the same for every campaign), each campaign-day off or at
least its platform's minimum daily budget, gives a campaign the plan leaves off a trial
day at its minimum when a posterior draw says it would pay (Thompson sampling), and
moves each budget at most x2 / x0.5 a day. Staff overrides are left alone and their
budgets are taken off the money first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from usher.campaigns.optimizer import pacing
from usher.campaigns.optimizer.allocation import allocate_tabulated
from usher.campaigns.optimizer.creatives import judge_creatives, suite_clicks
from usher.campaigns.optimizer.curves import DemandPattern
from usher.campaigns.optimizer.decisions import (
    CampaignPlan,
    CycleResult,
    Decision,
    DecisionKind,
    DecisionRule,
    Recommendation,
    RecommendationKind,
    money,
)
from usher.campaigns.optimizer.demand import RAMP_PRIOR_MEAN, estimate_demand
from usher.campaigns.optimizer.evidence import CampaignEvidence, gather_evidence
from usher.campaigns.optimizer.learner import (
    B_PRIOR_CENTER_RATIO,
    CurvePosterior,
    DailyObservation,
    fit_curve,
)
from usher.campaigns.optimizer.rules import BOOST_FACTOR, cpa_guard, roas_guard
from usher.campaigns.optimizer.state import CampaignState, CreativeState, SuiteState

# The plan's spend grid per campaign, in multiples of the equal-split daily spend.
PLAN_GRID_POINTS = 160
PLAN_GRID_BOTTOM_SCALES = 0.005
PLAN_GRID_TOP_SCALES = 40.0
# Log-spaced points in (0, 1], scaled to each campaign's ceiling.
PLAN_GRID_SHAPE = np.geomspace(
    PLAN_GRID_BOTTOM_SCALES / PLAN_GRID_TOP_SCALES, 1.0, PLAN_GRID_POINTS - 1
)
# Rounds of fitting the curves and the demand pattern in turn.
DEMAND_PASSES = 1
# A budget moves at most this much per daily rebalance (platforms re-enter learning on
# big edits; TikTok advises staying within +-50%).
MAX_DAILY_STEP_UP = 2.0
MAX_DAILY_STEP_DOWN = 0.5
# Exploration: budgets alternate by this share around the plan, except in the last days.
DITHER_SHARE = 0.15
DITHER_LAST_DAYS = 3
# ... and every campaign keeps at least this share of the equal-split budget until then.
EXPLORATION_FLOOR_SHARE = 0.1
# A day's trial days at the minimum (campaigns the plan leaves off) share at most this
# much of the day's money (thin-data seeds 101/102: a tenth 6,760 / 5,502, a quarter
# 6,827 / 6,046 of the oracle's 7,665).
TRIAL_SHARE = 0.25
# The rebalance waits for yesterday's last reports, but not past this hour.
REBALANCE_LATEST_HOUR = 6
GUARD_LOOKBACK_DAYS = 7
# A CPA-guard pause needs the rest of the suite to buy sales this much cheaper.
CPA_GUARD_BETTER_USE_RATIO = 1.5
# Below this share of its budget (relative to the suite's) a campaign meets its
# audience's ceiling; the plan then caps it a little above what it spends.
CEILING_DELIVERY_SHARE = 0.6
CEILING_HEADROOM = 1.1
CEILING_MIN_DAYS = 1
CEILING_WINDOW_DAYS = 7
# A safety cut smaller than this share is not worth an edit.
SAFETY_MIN_CUT_SHARE = 0.005
# On the flight's last day budgets rise hourly (by at most this factor at once) to use
# the money left, when the rise is worth an edit: any rise of 1%, since a learning phase
# re-entered on the last day costs nothing (the flight ends) and every hour held back
# leaves money the event never spends.
LAST_DAY_MAX_RAISE = 4.0
LAST_DAY_MIN_RAISE_SHARE = 0.01
# Advice needs this many fully reported days, and saturation means the next unit of
# money buys less than this share of the average one.
RECOMMEND_MIN_DAYS = 2
RAISE_BUDGET_SHARE = 0.2
SATURATION_MARGINAL_SHARE = 1 / 3
CREATIVE_HINT_PROBABILITY = 0.8
# Without any sales yet, the prior expects the target CPA at the equal-split spend.
DEFAULT_PRIOR_CONVERSIONS_PER_DAY = 1.0
# A campaign type's pooled rate counts as this many sales at the suite's rate on top of
# its own (thin types lean on the suite).
TYPE_PRIOR_CONVERSIONS = 3.0


@dataclass(frozen=True)
class _Ledger:
    free: float  # what no worst case of the unreported hours can have spent (safety)
    plannable: float  # what the plan spends over the days left, today whole (expected)
    mean_ratio: float
    low_share: float  # of a capped day's budget the plan counts on (pacing.low_delivery_share)
    max_ratio: float
    fixed_daily: float  # budgets held by staff overrides


def run_cycle(state: SuiteState, seed: int = 0, recommend: bool = True) -> CycleResult:
    """Decide this hour's changes for one budget's suite (pure; deterministic per seed/day)."""
    rng = np.random.default_rng([seed, state.day])
    evidence = gather_evidence(state.campaigns)
    ceilings = _ceilings(evidence)
    ledger = _ledger(state, evidence, ceilings)
    decisions: list[Decision] = []
    recommendations: list[Recommendation] = []

    pausing = _guard_pauses(state, evidence, ceilings, decisions)
    _creative_tests(state, rng, decisions, recommendations)

    managed = [
        i
        for i, c in enumerate(state.campaigns)
        if c.override is None and not c.paused_by_rule and i not in pausing
    ]
    due = [i for i in managed if _rebalance_due(state, state.campaigns[i])]
    # A paused campaign the day's rebalance left off gets no decision, so it stays due;
    # it waits for the next rebalance rather than re-running today's every hour.
    if not any(state.campaigns[i].active for i in due) and any(
        state.campaigns[i].active for i in managed
    ):
        due = []
    plans: tuple[CampaignPlan, ...] = ()
    if (due or recommend) and state.day < state.flight_days:
        model = _fit(state, evidence, ceilings)
        plan, draws_value = _plan(state, evidence, model, ledger, managed)
        plans = _plans(state, evidence, model, plan, ledger)
        if due:
            _rebalance(state, evidence, model, ledger, managed, due, plan, decisions, rng)
        if recommend:
            recommendations += _recommend(
                state, evidence, model, ledger, managed, plan, draws_value
            )
    _pace_today(state, ledger, ceilings, managed, due, decisions)
    _overrides(state, decisions)
    return CycleResult(tuple(decisions), tuple(recommendations), plans)


# --- the ledger -------------------------------------------------------------------


def _ledger(state: SuiteState, evidence: list[CampaignEvidence], ceilings: np.ndarray) -> _Ledger:
    """Delivery ratios (from campaigns free of an audience ceiling) and the money still free."""
    ratios = np.concatenate(
        [
            pacing.delivery_ratios(e.spend, e.budget)
            for e, ceiling in zip(evidence, ceilings, strict=True)
            if not np.isfinite(ceiling)
        ]
        or [np.zeros(0)]
    )
    mean_ratio = pacing.expected_delivery_ratio(ratios)
    max_ratio = pacing.max_delivery_ratio(ratios)
    in_force = sum(_budget_in_force(c) for c in state.campaigns)
    # The current hour still runs at the budgets in force: it counts as unreported.
    unreported = pacing.unreported_spend_bound(
        in_force,
        pacing.share_of_hours(
            state.reported_hours % pacing.HOURS_PER_DAY,
            state.hour_of_flight + 1 - state.reported_hours,
            state.hourly_profile,
        ),
        max_ratio,
    )
    free = pacing.free_money(float(state.total_budget), float(state.spent), unreported)
    fixed = sum(_budget_in_force(c) for c in state.campaigns if c.override is not None)
    return _Ledger(
        free,
        _plannable(state, in_force, mean_ratio),
        mean_ratio,
        pacing.low_delivery_share(ratios),
        max_ratio,
        fixed,
    )


def _plannable(state: SuiteState, in_force: float, mean_ratio: float) -> float:
    """The money the plan shares over the days left, today counted whole.

    A daily budget covers its whole day, so today's spend so far (reported or not) is
    part of today's plan, not money gone from it: the plan gets the total less what was
    spent *before* today. Taking the free money instead (the total less every reported
    and the worst case of every unreported hour, today's included) counted today's first
    hours twice, as spent and again as part of today's budget: on a 3-day flight the
    plan had 797 of the 934 left on day 1. Yesterday's hours not reported yet count at
    the expected delivery ratio; the worst case stays the safety checks' business.
    """
    today_start = state.day * pacing.HOURS_PER_DAY
    spent_today = sum(d.spend for c in state.campaigns for d in c.days if d.day == state.day)
    unreported_before_today = (
        pacing.unreported_spend_bound(
            in_force,
            (today_start - state.reported_hours) / pacing.HOURS_PER_DAY,
            mean_ratio,
        )
        if state.reported_hours < today_start
        else 0.0
    )
    spent_before_today = max(float(state.spent) - spent_today, 0.0) + unreported_before_today
    return max(float(state.total_budget) - spent_before_today, 0.0)


def _budget_in_force(campaign: CampaignState) -> float:
    if campaign.override is not None:
        if campaign.override.paused:
            return 0.0
        if campaign.override.daily_budget is not None:
            return float(campaign.override.daily_budget)
    return float(campaign.daily_budget) if campaign.active else 0.0


# --- guard rails and creative tests --------------------------------------------------


def _guard_pauses(
    state: SuiteState,
    evidence: list[CampaignEvidence],
    ceilings: np.ndarray,
    decisions: list[Decision],
) -> set[int]:
    """Pause campaigns whose CPA is credibly above twice the target, if money has a better use.

    The better use is the other live campaigns that can take more money: one at its
    audience's ceiling sells cheaply but cannot absorb what a pause frees, and money
    nobody can spend sells nothing.
    """
    if not state.target_cpa:
        return set()
    since = state.day - GUARD_LOOKBACK_DAYS
    windows = [e.window(since) for e in evidence]
    pausing: set[int] = set()
    for i, campaign in enumerate(state.campaigns):
        if campaign.override is not None or not campaign.active or campaign.paused_by_rule:
            continue
        spend, conversions, days = windows[i]
        siblings = [w for j, w in enumerate(windows) if j != i and state.campaigns[j].active]
        sibling_sales = sum(w[1] for w in siblings)
        suite_cpa = sum(w[0] for w in siblings) / sibling_sales if sibling_sales else None
        verdict = cpa_guard(spend, conversions, days, float(state.target_cpa), suite_cpa)
        if not verdict.fires:
            continue
        others = [
            w
            for j, w in enumerate(windows)
            if j != i and state.campaigns[j].active and not np.isfinite(ceilings[j])
        ]
        other_spend = sum(w[0] for w in others)
        other_sales = sum(w[1] for w in others)
        if other_sales == 0:
            continue
        other_cpa = other_spend / other_sales
        this_cpa = spend / conversions if conversions else float("inf")
        if this_cpa < CPA_GUARD_BETTER_USE_RATIO * other_cpa:
            continue
        pausing.add(i)
        decisions.append(
            Decision(
                kind=DecisionKind.PAUSE_CAMPAIGN,
                rule=DecisionRule.CPA_GUARD,
                campaign_id=campaign.campaign_id,
                reason=(
                    f"CPA above 2x the target ({float(state.target_cpa):.2f} {state.currency}) "
                    f"with probability {verdict.probability:.2f} over {days} days; the rest of "
                    f"the suite buys at {other_cpa:.2f} {state.currency}"
                ),
                numbers={
                    "spend": round(spend, 2),
                    "conversions": conversions,
                    "cpa": round(this_cpa, 2) if conversions else "none",
                    "target_cpa": float(state.target_cpa),
                    "probability": round(verdict.probability, 3),
                    "suite_cpa": round(other_cpa, 2),
                },
                expected_effect=f"about {state.money(spend / max(days, 1))} a day moves to campaigns selling at {state.money(other_cpa)} per sale",
            )
        )
    return pausing


def _creative_tests(
    state: SuiteState,
    rng: np.random.Generator,
    decisions: list[Decision],
    recommendations: list[Recommendation],
) -> None:
    elsewhere = suite_clicks([c.creatives for c in state.campaigns])
    for campaign, suite in zip(state.campaigns, elsewhere, strict=True):
        if not campaign.active or campaign.paused_by_rule:
            continue
        verdicts = judge_creatives(_delivered_hours(state, campaign), rng, suite)
        decisive = [v for v in verdicts if v.decisive]
        if decisive and campaign.override is None:
            for loser in decisive:
                lift = loser.winner_rate / loser.loser_rate - 1 if loser.loser_rate > 0 else 0.0
                decisions.append(
                    Decision(
                        kind=DecisionKind.PAUSE_CREATIVE,
                        rule=DecisionRule.CREATIVE_TEST,
                        campaign_id=campaign.campaign_id,
                        creative_id=loser.loser_id,
                        reason=(
                            f"creative {loser.winner_id} beats it with probability "
                            f"{loser.probability_winner_better:.2f}"
                        ),
                        numbers={
                            "probability_winner_better": round(loser.probability_winner_better, 3),
                            "loser_conversions_per_1000": round(loser.loser_rate * 1000, 3),
                            "winner_conversions_per_1000": round(loser.winner_rate * 1000, 3),
                        },
                        expected_effect=f"its spend goes to a creative converting {lift:.0%} better",
                    )
                )
            continue
        for verdict in verdicts:
            if verdict.probability_winner_better >= CREATIVE_HINT_PROBABILITY:
                name = next(
                    (c.name for c in campaign.creatives if c.creative_id == verdict.loser_id),
                    verdict.loser_id,
                )
                recommendations.append(
                    Recommendation(
                        kind=RecommendationKind.PAUSE_CREATIVE,
                        campaign_id=campaign.campaign_id,
                        message=(
                            f"creative '{name}' loses (probability "
                            f"{verdict.probability_winner_better:.0%} that another does better): pause it"
                        ),
                        numbers={
                            "probability": round(verdict.probability_winner_better, 3),
                            "creative": name,
                        },
                    )
                )


def _delivered_hours(state: SuiteState, campaign: CampaignState) -> tuple[CreativeState, ...]:
    """The campaign's creatives, each ``hours_live`` at most the hours it could deliver.

    A test waits until every variant has run a whole day (every hour's audience); an
    ad's hours since publication count the days its campaign was paused too (the
    platform-minimum rule pauses campaigns for days), when it showed to nobody. A day
    counts whole if the campaign spent and the ad was live at it; today, the hours so
    far.
    """
    delivered: dict[str, float] = {}
    for day in campaign.days:
        if day.spend <= 0:
            continue
        hours = float(state.hour) if day.day == state.day else float(pacing.HOURS_PER_DAY)
        live = day.active_creatives or tuple(c.creative_id for c in campaign.creatives)
        for creative_id in live:
            delivered[creative_id] = delivered.get(creative_id, 0.0) + hours
    return tuple(
        replace(c, hours_live=min(c.hours_live, delivered.get(c.creative_id, 0.0)))
        for c in campaign.creatives
    )


# --- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    posteriors: list[CurvePosterior]
    demand: DemandPattern
    ceilings: np.ndarray  # per campaign, daily spend (inf: none seen)


def _spend_scale(state: SuiteState) -> float:
    per_day = float(state.total_budget) / max(state.flight_days, 1)
    if state.daily_limit is not None:
        per_day = min(per_day, float(state.daily_limit))
    return per_day / max(len(state.campaigns), 1)


def _curve_scales(state: SuiteState) -> np.ndarray:
    """Per campaign, the daily spend its curve's prior is scaled to: the equal split's, or
    its platform's minimum daily budget where that is more.

    The prior centres the half-saturation spend on 1.5x the spend a campaign runs at,
    and one the platform runs only at 25 or 100 a day does not run at a 13-a-day share:
    scaled to the share, a thin flight's Meta and TikTok curves were presumed saturated
    well under their minimums (b about 20 where the market's are 40 to 260), which no
    few sales a week could correct, and the plan kept money on the wrong campaigns.
    """
    return np.maximum(_spend_scale(state), _minimums(state, list(range(len(state.campaigns)))))


def _fit(state: SuiteState, evidence: list[CampaignEvidence], ceilings: np.ndarray) -> _Model:
    """Curves and the demand pattern, alternately (each explains the other's residual)."""
    scales = _curve_scales(state)
    demand = DemandPattern(state.flight_days, state.first_weekday, RAMP_PRIOR_MEAN)
    prior_a = _prior_a(state, evidence, demand, scales)
    posteriors = _fit_all(evidence, demand, scales, prior_a)
    observed = [k for k, e in enumerate(evidence) if len(e.days)]
    # A campaign whose market changed mid-flight would read as a demand change: the
    # pattern is learned from the others (all, if every one changed).
    steady = [k for k in observed if posteriors[k].change_day is None] or observed
    if not observed:
        return _Model(posteriors, demand, ceilings)
    days = np.concatenate([evidence[k].days for k in steady])
    sales = np.concatenate([evidence[k].conversions for k in steady])
    unique = np.unique(days)
    per_day_sales = np.array([sales[days == d].sum() for d in unique])
    for _ in range(DEMAND_PASSES):
        # What the curves predict for each day's spend at demand 1.
        base = np.concatenate(
            [
                posteriors[k].expected_conversions(evidence[k].spend) * evidence[k].quality
                for k in steady
            ]
        )
        per_day_base = np.array([base[days == d].sum() for d in unique])
        demand = estimate_demand(
            state.flight_days, state.first_weekday, unique, per_day_sales, per_day_base
        )
        prior_a = _prior_a(state, evidence, demand, scales)
        posteriors = _fit_all(evidence, demand, scales, prior_a)
    return _Model(posteriors, demand, ceilings)


def _observations(e: CampaignEvidence, demand: DemandPattern) -> list[DailyObservation]:
    factors = demand.factors()
    return [
        DailyObservation(float(s), float(c), float(factors[d] * q))
        for d, s, c, q in zip(e.days, e.spend, e.conversions, e.quality, strict=True)
        if d < len(factors)
    ]


def _fit_all(evidence, demand, scales: np.ndarray, prior_a: np.ndarray) -> list[CurvePosterior]:
    return [
        fit_curve(_observations(e, demand), float(scales[k]), float(prior_a[k]))
        for k, e in enumerate(evidence)
    ]


def _prior_a(
    state: SuiteState, evidence: list[CampaignEvidence], demand: DemandPattern, scales: np.ndarray
) -> np.ndarray:
    """Empirical Bayes, per campaign: the pooled level of its campaign type, shrunk to the suite's.

    A thin campaign leans on its siblings, first those of its own type: retargeting
    on a warm audience and prospecting on a cold one buy sales at different rates on
    every platform, so the type's campaigns are the closest evidence (the type is
    known; how its rate compares is learned). A type with little data borrows the
    suite's level (``TYPE_PRIOR_CONVERSIONS`` pseudo-sales of it); a campaign alone
    of its type takes the suite's.
    """
    saturation_at_scale = -np.expm1(-1.0 / B_PRIOR_CENTER_RATIO)
    factors = demand.factors()
    sales = np.array([e.total_conversions for e in evidence], dtype=float)
    exposure = np.array(
        [
            float(
                np.sum(
                    factors[e.days]
                    * e.quality
                    * -np.expm1(-e.spend / (B_PRIOR_CENTER_RATIO * scales[k]))
                )
            )
            if len(e.days)
            else 0.0
            for k, e in enumerate(evidence)
        ]
    )
    if sales.sum() > 0 and exposure.sum() > 0:
        suite = sales.sum() / exposure.sum()
    elif state.target_cpa:
        suite = _spend_scale(state) / float(state.target_cpa) / saturation_at_scale
    else:
        suite = DEFAULT_PRIOR_CONVERSIONS_PER_DAY / saturation_at_scale
    types = np.array([c.campaign_type for c in state.campaigns])
    prior = np.full(len(evidence), suite)
    for kind in np.unique(types):
        mine = types == kind
        # A type of one has no siblings: its own days are its likelihood, not also its
        # prior (an unlucky start counted twice would starve it).
        if mine.sum() > 1:
            prior[mine] = (sales[mine].sum() + TYPE_PRIOR_CONVERSIONS) / (
                exposure[mine].sum() + TYPE_PRIOR_CONVERSIONS / suite
            )
    return prior


def _ceilings(evidence: list[CampaignEvidence]) -> np.ndarray:
    """A daily spend ceiling for campaigns whose audience cannot absorb their budget.

    A day is "capped" when the campaign spent well under its budget while the suite's
    campaigns typically spend theirs (last week); a capped day sets the ceiling at the
    most it spent on them or lately (plus headroom). It stays once the
    budget is brought down to it (its days then look normal): capped days count from the
    whole history, unless the latest day spent well above them.
    """
    shares = []
    for e in evidence:
        share = e.spend / np.where(e.budget > 0, e.budget, np.nan)
        # A budget lowered mid-week can meet the platform's weekly cap: not the audience.
        lowered = np.concatenate([[False], e.budget[1:] < e.budget[:-1] * (1 - 1e-9)])
        shares.append(np.where(lowered, np.nan, share))
    pooled = np.concatenate([s[-CEILING_WINDOW_DAYS:] for s in shares] or [np.zeros(0)])
    # The upper quartile: capped campaigns pull a median down (two of four can be capped).
    typical = float(np.nanpercentile(pooled, 75)) if np.isfinite(pooled).any() else np.nan
    ceilings = np.full(len(evidence), np.inf)
    if not np.isfinite(typical):
        return ceilings
    for i, e in enumerate(evidence):
        judged = np.isfinite(shares[i])
        capped = judged & (shares[i] < CEILING_DELIVERY_SHARE * typical)
        if capped.sum() < CEILING_MIN_DAYS:
            continue
        # An audience's ceiling holds back every day: the latest day, if it spent its
        # budget and more than the capped days allow, refutes it (a 3-day flight's
        # Meta campaign spent 64 of 102 on day 0, then 184 of 151: read as a ceiling
        # at 1.1 x 184, it held the last day near 200 where 300 paid). A day at a
        # budget brought down to the ceiling spends about it, and keeps it.
        latest = np.flatnonzero(judged)[-1]
        if not capped[latest] and e.spend[latest] > e.spend[capped].max() * CEILING_HEADROOM:
            continue
        # An audience that grows lifts the ceiling: recent days count too.
        highest = max(e.spend[capped].max(), e.spend[-CEILING_WINDOW_DAYS:].max())
        ceilings[i] = float(highest) * CEILING_HEADROOM
    return ceilings


# --- planning ----------------------------------------------------------------------


def _plan(state, evidence, model: _Model, ledger: _Ledger, managed: list[int]):
    """Today's budget per managed campaign, from the posterior-mean curves over the days left.

    Returns (budgets per campaign index, and a function valuing extra money for advice).
    """
    remaining_days = state.flight_days - state.day
    demand = model.demand.factors(state.day, state.flight_days)
    budget_units = max(
        ledger.plannable / ledger.mean_ratio - ledger.fixed_daily * remaining_days, 0.0
    )
    cap = None
    if state.daily_limit is not None:
        # Today may go to the limit; later days are counted at what an under-delivering
        # day spends of it, so money is not left for days that cannot absorb it.
        limit = max(float(state.daily_limit) - ledger.fixed_daily, 0.0)
        cap = np.full(remaining_days, limit * ledger.low_share)
        cap[0] = limit
    scale = _spend_scale(state)
    minimums = _minimums(state, managed)
    grids, tables, curves = [], [], []
    for k, i in enumerate(managed):
        # A ceiling is the audience's, in spend: a budget above it buys nothing, whatever
        # the delivery ratio (which only scales spend that follows the budget). Without
        # one the grid reaches past the platform's minimum, so the minimum can be priced.
        top = max(
            min(model.ceilings[i], max(PLAN_GRID_TOP_SCALES * scale, 2 * minimums[k])),
            2 * PLAN_GRID_BOTTOM_SCALES * scale,
        )
        grid = np.concatenate([[0.0], top * PLAN_GRID_SHAPE])
        spend = grid * ledger.mean_ratio
        value = evidence[i].value_per_conversion
        posterior = model.posteriors[i]
        grids.append(grid)
        tables.append(value * ledger.mean_ratio * posterior.expected_marginal(spend))
        curves.append((posterior, value))
    grid_a = np.array(grids).reshape(len(managed), PLAN_GRID_POINTS)
    table_a = np.array(tables).reshape(len(managed), PLAN_GRID_POINTS)

    def solve(money_units: float) -> tuple[np.ndarray, float, float]:
        """(the plan, its expected revenue, its expected conversions)."""
        plan = allocate_tabulated(grid_a, table_a, demand, money_units, cap, minimums)
        conversions = (
            np.array(
                [
                    p.expected_conversions(plan[k] * ledger.mean_ratio)
                    for k, (p, _) in enumerate(curves)
                ]
            ).reshape(len(managed), len(demand))
            * demand[None, :]
        )
        values = np.array([v for _, v in curves])
        return plan, float((values[:, None] * conversions).sum()), float(conversions.sum())

    plan, base_rev, base_conv = solve(budget_units)
    budgets = {i: float(plan[k, 0]) for k, i in enumerate(managed)}

    def value_of_more(extra_share: float) -> tuple[float, float, float]:
        """Extra (revenue, conversions, money) if the free money grew by ``extra_share``."""
        _, more_rev, more_conv = solve(budget_units * (1 + extra_share))
        return (
            more_rev - base_rev,
            more_conv - base_conv,
            budget_units * extra_share * ledger.mean_ratio,
        )

    return budgets, value_of_more


def _plans(state, evidence, model: _Model, plan: dict[int, float], ledger: _Ledger):
    """Each campaign's plan for today (the managed ones' from the plan, the others' at their
    budget in force). Only called during the flight (``run_cycle``), so today has a factor."""
    factor = float(model.demand.factors(state.day, state.day + 1)[0])
    result = []
    for i, campaign in enumerate(state.campaigns):
        posterior = model.posteriors[i]
        spend = plan.get(i, _budget_in_force(campaign)) * ledger.mean_ratio
        result.append(
            CampaignPlan(
                campaign_id=campaign.campaign_id,
                planned_spend_today=round(spend, 2),
                expected_conversions_today=round(posterior.expected_conversions(spend, factor), 3),
                value_per_conversion=round(evidence[i].value_per_conversion, 2),
                mean_a=round(posterior.mean_a, 4),
                mean_b=round(posterior.mean_b, 2),
                change_day=posterior.change_day,
            )
        )
    return tuple(result)


def _rebalance_due(state: SuiteState, campaign: CampaignState) -> bool:
    """Once a day: when yesterday is reported, at REBALANCE_LATEST_HOUR at the latest.

    A paused campaign has no report to wait for (its platform reports nothing for it: on
    an ad account whose campaigns are all paused, no day ever reads as complete), so it
    is due with the day's first rebalance of the live ones. Waiting for its own report,
    it came due only at six, alone, and a rebalance of paused campaigns alone is skipped:
    a TikTok campaign paused on day 2 of the change-point flight got no trial day and no
    resume for the 21 days after, while the decisions alone resumed it.
    """
    if campaign.budget_set_day == state.day:
        return False
    if state.day == 0 or state.hour >= REBALANCE_LATEST_HOUR or not campaign.active:
        return True
    yesterday = [d for d in campaign.days if d.day == state.day - 1]
    return bool(yesterday) and yesterday[0].complete


def _rebalance(state, evidence, model, ledger, managed, due, plan, decisions, rng) -> None:
    targets = {}
    rules = {}
    at_ceiling = {i for i in managed if plan[i] >= model.ceilings[i] * (1 - 1e-6)}
    factor = float(model.demand.factors(state.day, state.day + 1)[0])
    floor = _exploration_floor(state)
    trials = _trials_at_minimum(state, evidence, model, ledger, managed, plan, factor, rng)
    explored = _explore(
        state,
        {i: _with_floor(state.campaigns[i], plan[i], floor, i in trials) for i in managed},
        at_ceiling,
    )
    unfunded = {i for i in managed if explored[i] <= 0}
    for i in managed:
        if i in unfunded:
            targets[i], rules[i] = 0.0, DecisionRule.ALLOCATION
            continue
        campaign = state.campaigns[i]
        current = float(campaign.daily_budget)
        target = explored[i]
        rule = DecisionRule.ALLOCATION
        # A paused campaign starts afresh: no step from the budget it was paused with.
        if campaign.budget_set_day is not None and current > 0 and campaign.active:
            base = _step_base(state, campaign)
            target = min(max(target, base * MAX_DAILY_STEP_DOWN), base * MAX_DAILY_STEP_UP)
        if (
            _boost(state, evidence[i], model.posteriors[i], current, ledger)
            and target < current * BOOST_FACTOR
        ):
            target, rule = current * BOOST_FACTOR, DecisionRule.ROAS_GUARD
        targets[i] = max(target, float(campaign.min_daily_budget))
        rules[i] = rule
    # Campaigns not due keep the budget they have; only the due ones are scaled to fit.
    kept = [i for i in managed if i not in due and state.campaigns[i].active]
    room_days, week_spent = _week_rooms(state, due)
    # Under the daily limit, each raised where a weekly cap would otherwise stop its day
    # (a budget cut late in the week would leave no room to deliver at all).
    limit_room = (
        np.inf
        if state.daily_limit is None
        else float(state.daily_limit)
        - ledger.fixed_daily
        - sum(float(state.campaigns[i].daily_budget) for i in kept)
    )
    limited = pacing.fit_to_daily_limit(
        np.array([targets[i] for i in due]),
        max(limit_room, 0.0),
        room_days,
        week_spent,
        ledger.mean_ratio,
        _minimums(state, due),
    )
    share_left = _share_left(state)
    kept_worst = _worst(
        state, kept, [float(state.campaigns[i].daily_budget) for i in kept], ledger, share_left
    )
    remaining = ledger.free - ledger.fixed_daily * ledger.max_ratio - kept_worst
    fitted = pacing.fit_to_remainder(
        limited,
        max(remaining, 0.0),
        ledger.max_ratio,
        share_left,
        room_days,
        week_spent,
        floors=_minimums(state, due),
    )
    targets.update({i: float(fitted[k]) for k, i in enumerate(due)})
    priced = state.sales_value_known  # once, not per decision: it scans every day
    for i in due:
        campaign = state.campaigns[i]
        budget = targets[i]
        posterior = model.posteriors[i]
        spend = budget * ledger.mean_ratio
        conversions = posterior.expected_conversions(spend, factor)
        value = evidence[i].value_per_conversion
        numbers = {
            "previous_budget": _daily_wish(campaign),
            "new_budget": round(budget, 2),
            "expected_conversions_today": round(conversions, 3),
            "expected_revenue_today": round(conversions * value, 2),
            "marginal_roas": round(posterior.expected_marginal(spend, factor) * value, 3),
            "curve_a": round(posterior.mean_a, 4),
            "curve_b": round(posterior.mean_b, 2),
            "free_money": round(ledger.free, 2),
            "days_left": state.flight_days - state.day,
        }
        if budget < float(campaign.min_daily_budget):
            if campaign.active:
                decisions.append(
                    Decision(
                        kind=DecisionKind.PAUSE_CAMPAIGN,
                        rule=rules[i] if i in unfunded else DecisionRule.SPEND_SAFETY,
                        campaign_id=campaign.campaign_id,
                        reason=UNFUNDED_REASON
                        if i in unfunded
                        else "the money left cannot fund this campaign's minimum budget",
                        numbers=numbers,
                        expected_effect="no further spend",
                        plan_day=state.day,
                    )
                )
            continue
        if not campaign.active:
            decisions.append(
                Decision(
                    kind=DecisionKind.RESUME_CAMPAIGN,
                    rule=rules[i],
                    campaign_id=campaign.campaign_id,
                    reason="the plan funds it again",
                    numbers=numbers,
                    plan_day=state.day,
                    expected_effect=f"about {conversions:.1f} sales today",
                )
            )
        decisions.append(
            Decision(
                kind=DecisionKind.SET_BUDGET,
                rule=rules[i],
                campaign_id=campaign.campaign_id,
                daily_budget=money(budget),
                reason=(
                    "ROAS credibly above twice the target and the curve is not saturated"
                    if rules[i] == DecisionRule.ROAS_GUARD
                    else "daily rebalance: equal marginal return across the suite over the days left"
                ),
                numbers=numbers,
                expected_effect=(
                    f"about {conversions:.1f} sales ({state.money(conversions * value)} of tickets) today"
                    if priced
                    else f"about {conversions:.1f} sales today"
                ),
                plan_day=state.day,
            )
        )


def _daily_wish(campaign: CampaignState) -> float:
    """The daily budget a campaign was last asked for: the one in force, or on a lifetime
    budget (no daily budget in force) the daily wish spend control paces it with."""
    if campaign.lifetime_wish is not None:
        return float(campaign.lifetime_wish)
    return float(campaign.daily_budget)


def _step_base(state: SuiteState, campaign: CampaignState) -> float:
    """The budget a day's step (x2 / x0.5) is measured from: the one in force now, or
    yesterday's if higher. Spend safety may have cut today's for a few hours (an outage's
    unreported hours look like money spent); stepping from that cut kept a 3-day
    flight's Google campaign at 10 a day on its last day where the plan wanted 100."""
    yesterday = [d.budget for d in campaign.days if d.day == state.day - 1]
    return max([float(campaign.daily_budget), *yesterday])


UNFUNDED_REASON = (
    "the plan leaves it off: its platform's minimum daily budget sells less here than "
    "the same money on the other campaigns"
)


def _with_floor(campaign: CampaignState, planned: float, floor: float, trial: bool) -> float:
    """A campaign's budget before exploration's alternation: the plan's, kept at the
    exploration floor (where the platform takes a budget that small), and a campaign the
    plan leaves off either off or, on a trial day, at its platform's minimum."""
    minimum = float(campaign.min_daily_budget)
    if planned > 0:
        return max(planned, floor)
    if trial:
        return minimum
    return floor if floor >= minimum else 0.0


def _trials_at_minimum(
    state: SuiteState,
    evidence: list[CampaignEvidence],
    model: _Model,
    ledger: _Ledger,
    managed: list[int],
    plan: dict[int, float],
    factor: float,
    rng: np.random.Generator,
) -> set[int]:
    """Campaigns the plan leaves off that get a day at their platform's minimum, to learn.

    The plan runs on the posterior-mean curves, so a campaign whose minimum does not pay
    *on average* stays off and never shows what it is worth. Each one whose minimum a
    posterior draw (Thompson sampling) says pays at the plan's price (the marginal
    return of the campaigns it funds above their minimum, their median) gets a trial
    day: often while the curve is uncertain, rarely once the data say it is weak. Only
    where the minimum is affordable: the trials of a day share at most a quarter of the
    day's money and what the daily limit leaves of it, best draw first, and stop when
    exploration stops. A campaign at its audience's ceiling is costed at what it spends.
    """
    if state.flight_days - state.day <= DITHER_LAST_DAYS:
        return set()
    funded = [k for k in managed if plan[k] > 0]
    priced = [
        k
        for k in funded
        if plan[k] > float(state.campaigns[k].min_daily_budget) * (1 + 1e-6)
        and plan[k] < model.ceilings[k] * (1 - 1e-6)
    ] or funded
    if not priced:
        return set()
    price = float(
        np.median(
            [
                evidence[k].value_per_conversion
                * model.posteriors[k].expected_marginal(plan[k] * ledger.mean_ratio, factor)
                for k in priced
            ]
        )
    )
    allowance = TRIAL_SHARE * _spend_scale(state) * len(managed)
    if state.daily_limit is not None:
        # Within the day's limit: over it, the day's budgets are cut, the minimums first
        # kept, and a day whose minimums no longer fit had every budget cut under them.
        planned_today = ledger.fixed_daily + sum(plan[k] for k in funded)
        allowance = min(allowance, float(state.daily_limit) - planned_today)
    advantage = {}
    for i in managed:
        minimum = float(state.campaigns[i].min_daily_budget)
        if plan[i] > 0 or minimum > allowance:
            continue
        spend = min(minimum * ledger.mean_ratio, float(model.ceilings[i]))
        a, b = model.posteriors[i].sample(rng, 1)
        earned = evidence[i].value_per_conversion * a[0] * factor * -np.expm1(-spend / b[0])
        if earned > price * spend:
            advantage[i] = earned / (price * spend) if price > 0 else np.inf
    trials: set[int] = set()
    for i in sorted(advantage, key=lambda k: -advantage[k]):
        minimum = float(state.campaigns[i].min_daily_budget)
        if minimum <= allowance:
            trials.add(i)
            allowance -= minimum
    return trials


def _exploration_floor(state: SuiteState) -> float:
    """The least daily budget of a managed campaign while there is time to learn.

    A campaign starved to nothing cannot show that its market changed (a viral clip, a
    new audience); a small floor keeps its data coming, and stops near the event.
    """
    if state.flight_days - state.day <= DITHER_LAST_DAYS:
        return 0.0
    return EXPLORATION_FLOOR_SHARE * _spend_scale(state)


def _explore(
    state: SuiteState, planned: dict[int, float], at_ceiling: set[int]
) -> dict[int, float]:
    """Exploration: alternate each budget around its plan, day by day, money-neutral.

    Spend that only follows the plan rises with the event's ramp, so saturation and
    demand growth look alike; an alternating +-share, out of step across campaigns,
    varies spend independently of time and shows each curve's slope where it is used.
    The day's total stays the plan's (the alternation moves money between campaigns,
    never off the day: a day under a binding daily limit cannot make it up later). A
    campaign planned at its audience's ceiling is left out: its spend is the audience's,
    not the budget's, so a higher budget would show nothing and park money.
    Being symmetric it costs only second-order revenue; it stops near the event.
    """
    explored = dict(planned)
    free = [i for i in planned if i not in at_ceiling]
    if state.flight_days - state.day <= DITHER_LAST_DAYS or not free:
        return explored
    dithered = {
        i: planned[i] * (1.0 + DITHER_SHARE * (1 if (state.day + i) % 2 == 0 else -1)) for i in free
    }
    total = sum(dithered.values())
    scale = sum(planned[i] for i in free) / total if total > 0 else 1.0
    explored.update({i: budget * scale for i, budget in dithered.items()})
    return explored


def _week_room(state: SuiteState, campaign: CampaignState) -> tuple[float, float]:
    """(the platform's weekly cap in daily budgets, or inf; the spend of this calendar week)."""
    if campaign.weekly_cap_days is None:
        return np.inf, 0.0
    week_start = state.day - (state.day + state.first_weekday) % 7
    spent = sum(d.spend for d in campaign.days if week_start <= d.day <= state.day)
    return float(campaign.weekly_cap_days), float(spent)


def _week_rooms(state: SuiteState, indexes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [_week_room(state, state.campaigns[i]) for i in indexes]
    return np.array([p[0] for p in pairs], dtype=float), np.array(
        [p[1] for p in pairs], dtype=float
    )


def _minimums(state: SuiteState, indexes: list[int]) -> np.ndarray:
    """The platforms' minimum daily budgets of these campaigns."""
    return np.array([float(state.campaigns[i].min_daily_budget) for i in indexes], dtype=float)


def _share_left(state: SuiteState) -> float:
    """The most of a day's delivery the rest of today can hold.

    It includes the current hour: a change may count from it (or from the next one).
    """
    return pacing.share_of_hours(
        state.hour, pacing.HOURS_PER_DAY - state.hour, state.hourly_profile
    )


def _worst(
    state: SuiteState, indexes: list[int], budgets, ledger: _Ledger, share_left: float
) -> float:
    room_days, week_spent = _week_rooms(state, indexes)
    return float(
        pacing.worst_spend(
            np.array(budgets, dtype=float), ledger.max_ratio, share_left, room_days, week_spent
        ).sum()
    )


def _boost(state, e: CampaignEvidence, posterior: CurvePosterior, current: float, ledger) -> bool:
    """The ROAS guard, filtered by the model: only where more money still pays."""
    if not state.target_roas or current <= 0:
        return False
    spend, conversions, days = e.window(state.day - GUARD_LOOKBACK_DAYS)
    verdict = roas_guard(spend, conversions, e.value_per_conversion, days, float(state.target_roas))
    if not verdict.fires:
        return False
    marginal = (
        posterior.expected_marginal(current * BOOST_FACTOR * ledger.mean_ratio)
        * e.value_per_conversion
    )
    return marginal >= float(state.target_roas)


# --- safety, overrides, advice -------------------------------------------------------------


def _pace_today(
    state: SuiteState, ledger: _Ledger, ceilings: np.ndarray, managed, due, decisions
) -> None:
    """Keep the budgets in force within the money left; on the last day, spend what is left.

    Every hour: if the rest of today, at the worst delivery ratio, could spend more than
    is free, cut. On the flight's last day also raise: money not spent by the event is
    money that sold nothing. A campaign is not raised past its audience's ceiling: it
    cannot spend more, and the higher budget's worst case would hold back money the
    others can spend.
    """
    live = [i for i in managed if i not in due and state.campaigns[i].active]
    if not live:
        return
    last_day = state.day == state.flight_days - 1
    budgets = np.array([_paced_budget(state.campaigns[i], last_day) for i in live])
    hours_left = pacing.HOURS_PER_DAY - state.hour
    share_left = _share_left(state)
    room = max(ledger.free - ledger.fixed_daily * ledger.max_ratio * share_left, 0.0)
    room_days, week_spent = _week_rooms(state, live)
    fitted = pacing.fit_to_remainder(
        budgets,
        room,
        ledger.max_ratio,
        share_left,
        room_days,
        week_spent,
        max_scale=np.clip(ceilings[live] / np.maximum(budgets, 1e-9), 1.0, LAST_DAY_MAX_RAISE)
        if last_day
        else 1.0,
        floors=_minimums(state, live),
    )
    if last_day and state.daily_limit is not None and fitted.sum() > 0:
        # The rise shares what the limit leaves of today, in proportion to the budgets
        # in force (never a cut: that is the money's business, above). Dividing by the
        # raised total instead held every rise under the limit to a fraction of it.
        cap = float(state.daily_limit) - ledger.fixed_daily
        fitted = np.minimum(fitted, budgets * max(1.0, cap / budgets.sum()))
    for k, i in enumerate(live):
        campaign = state.campaigns[i]
        raise_it = last_day and fitted[k] > budgets[k] * (1 + LAST_DAY_MIN_RAISE_SHARE)
        if not raise_it and fitted[k] >= budgets[k] * (1 - SAFETY_MIN_CUT_SHARE):
            continue
        numbers = {
            "previous_budget": round(float(budgets[k]), 2),
            "new_budget": round(float(fitted[k]), 2),
            "free_money": round(ledger.free, 2),
            "max_delivery_ratio": round(ledger.max_ratio, 3),
            "hours_left_today": hours_left,
        }
        if raise_it:
            kind, rule, reason, effect = PACING_RAISE
        elif fitted[k] < float(campaign.min_daily_budget):
            kind, rule, reason, effect = SAFETY_PAUSE
        else:
            kind, rule, reason, effect = SAFETY_CUT
        decisions.append(
            Decision(
                kind=kind,
                rule=rule,
                campaign_id=campaign.campaign_id,
                daily_budget=money(float(fitted[k])) if kind == DecisionKind.SET_BUDGET else None,
                reason=reason,
                numbers=numbers,
                expected_effect=effect,
            )
        )


def _paced_budget(campaign: CampaignState, last_day: bool) -> float:
    """The budget the hourly pacing moves: the daily one in force, and on the flight's
    last day a lifetime budget's daily wish. A lifetime budget rises by exactly the money
    it is given (a hard cap), where a daily one's rise also reserves its over-delivery
    for the rest of the day: left at 0, the lifetime campaigns never rose on the last
    day and the money the daily ones could not take stayed unspent."""
    return _daily_wish(campaign) if last_day else float(campaign.daily_budget)


# (kind, rule, reason, expected effect) of the hourly pacing decisions.
PACING_RAISE = (
    DecisionKind.SET_BUDGET,
    DecisionRule.PACING,
    "the flight's last day: spend what is left of the budget",
    "the budget is used up by the event, without overspending",
)
SAFETY_PAUSE = (
    DecisionKind.PAUSE_CAMPAIGN,
    DecisionRule.SPEND_SAFETY,
    "the budget is nearly spent: the worst day's delivery would overspend it",
    "no further spend",
)
SAFETY_CUT = (
    DecisionKind.SET_BUDGET,
    DecisionRule.SPEND_SAFETY,
    "the worst day's delivery of the budgets in force would overspend the budget",
    "total spend stays within the paid budget",
)


def _overrides(state: SuiteState, decisions: list[Decision]) -> None:
    for campaign in state.campaigns:
        if campaign.override is None or campaign.budget_set_day == state.day:
            continue
        decisions.append(
            Decision(
                kind=DecisionKind.KEEP_OVERRIDE,
                rule=DecisionRule.STAFF_OVERRIDE,
                campaign_id=campaign.campaign_id,
                reason="a staff override holds this campaign; the optimizer leaves it alone",
                numbers={
                    "paused": str(campaign.override.paused),
                    "daily_budget": str(campaign.override.daily_budget or Decimal("0")),
                },
                plan_day=state.day,
            )
        )


def _recommend(
    state, evidence, model, ledger, managed, plan, value_of_more
) -> list[Recommendation]:
    complete_days = max((len(e.days) for e in evidence), default=0)
    if complete_days < RECOMMEND_MIN_DAYS or not managed:
        return []
    advice = []
    revenue, conversions, extra_money = value_of_more(RAISE_BUDGET_SHARE)
    threshold = float(state.target_roas) if state.target_roas else 1.0
    if extra_money > 0 and revenue / extra_money >= threshold:
        tickets_per_sale = float(np.mean([evidence[i].tickets_per_conversion for i in managed]))
        roas = revenue / extra_money
        advice.append(
            Recommendation(
                kind=RecommendationKind.RAISE_BUDGET,
                message=(
                    f"raise the budget by {RAISE_BUDGET_SHARE:.0%}: expected "
                    f"+{conversions * tickets_per_sale:.0f} tickets at ROAS {roas:.1f}x"
                ),
                numbers={
                    "extra_money": round(extra_money, 2),
                    "extra_revenue": round(revenue, 2),
                    "extra_tickets": round(conversions * tickets_per_sale, 1),
                    "roas_of_extra_money": round(roas, 3),
                },
            )
        )
    factor = float(model.demand.factors(state.day, state.day + 1)[0])
    for i in managed:
        e, posterior = evidence[i], model.posteriors[i]
        spend = plan.get(i, 0.0) * ledger.mean_ratio
        if len(e.days) < RECOMMEND_MIN_DAYS or spend <= 0:
            continue
        average = posterior.expected_conversions(spend, factor) / spend
        marginal = posterior.expected_marginal(spend, factor)
        if average > 0 and marginal < SATURATION_MARGINAL_SHARE * average:
            campaign = state.campaigns[i]
            advice.append(
                Recommendation(
                    kind=RecommendationKind.SATURATED,
                    campaign_id=campaign.campaign_id,
                    message=(
                        f"{campaign.campaign_type.replace('_', ' ')} on {campaign.platform} is "
                        f"saturated: the next {state.money(100)} buy {marginal * 100:.2f} sales, "
                        f"the average {state.money(100)} {average * 100:.2f}"
                    ),
                    numbers={
                        "marginal_roas": round(float(marginal * e.value_per_conversion), 3),
                        "average_roas": round(float(average * e.value_per_conversion), 3),
                    },
                )
            )
    return advice
