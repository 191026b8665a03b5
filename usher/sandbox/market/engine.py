"""The market engine: a simulated clock, hourly delivery, reports, truth and purchases.

`Market` is installed into a `SandboxState`: it becomes the state's clock and its
`MetricsSource`, so every platform endpoint answers in simulated time from simulated
delivery. Advancing the clock delivers every whole hour passed, for every live
campaign object, with the configuration in force at the start of that hour: a change
made at 10:20 counts from 11:00 (and one made while the clock stands exactly at 10:00
counts from 10:00).

Every random draw comes from a numpy Generator seeded by (scenario seed, stream,
segment or budget, day or hour), never from a shared stream, so the same scenario
and seed give the same numbers however the clock is advanced and whatever is asked
in between.
"""

from __future__ import annotations

import base64
import calendar
import math
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from usher.sandbox.market import campaigns, model
from usher.sandbox.market.objects import CLICK_ID_PARAMS, AdSlot, DeliveryUnit, delivery_units
from usher.sandbox.market.scenario import HOURS_PER_DAY, Scenario, Segment
from usher.sandbox.metrics import Metrics, account_zone
from usher.sandbox.state import SandboxState

SECONDS_PER_HOUR = 3600
# Independent random streams (the second entry of every seed).
STREAM_OVERDELIVERY = 1
STREAM_HOUR = 2
STREAM_VISITS = 3
# Meta's rule (docs/simulator.md): at most 7 daily budgets a calendar week; TikTok is held to it
# too. Google: 2 daily budgets a day and 30.4 a month (after a change in the month: what
# was spent, plus the new budget for each day left; `_google_month_room`).
WEEKLY_CAP_DAILY_BUDGETS = 7.0
GOOGLE_DAILY_CAP_DAILY_BUDGETS = 2.0
GOOGLE_MONTHLY_CAP_DAILY_BUDGETS = 30.4
CAPS_BY_WEEK = frozenset({"meta", "tiktok"})
# Reach is not modelled; reports show impressions over this average frequency.
REPORTED_FREQUENCY = 1.3
CLICK_ID_PREFIXES = {"meta": "IwAR", "google_ads": "Cj0KCQ", "tiktok": "E.C.P."}
CLICK_ID_BYTES = 24
# A buyer lands on the event page this long before buying (the visit of a purchase).
VISIT_BEFORE_PURCHASE = timedelta(minutes=1)
# Ledger columns, per object and hour.
IMPRESSIONS, CLICKS, SPEND, CONVERSIONS, VALUE, REPORTED_CONVERSIONS, REPORTED_VALUE = range(7)
LEDGER_COLUMNS = 7


class _TimedRecord:
    """A record with a `time`, answered as JSON with the time in ISO 8601."""

    time: datetime

    def to_json(self) -> dict[str, Any]:
        return dict(asdict(self), time=self.time.isoformat())  # type: ignore[call-overload]


@dataclass(frozen=True)
class HourTruth(_TimedRecord):
    """What really happened in one segment in one hour (never shown to Usher)."""

    hour: int
    time: datetime
    platform: str
    campaign_type: str
    spend: float
    expected_conversions: float
    expected_revenue: float
    conversions: int
    revenue: float
    impressions: int
    clicks: int
    tickets: int


@dataclass(frozen=True)
class Visit(_TimedRecord):
    """A click that landed on the event page (sampled; see Market.visits)."""

    time: datetime
    platform: str
    ad_id: str
    campaign_type: str
    click_id_param: str
    click_id: str
    landing_url: str
    utm: dict[str, str]


@dataclass(frozen=True)
class Purchase(Visit):
    """A realized conversion as the marketplace sees it: an order after an ad click."""

    seq: int
    order_id: str
    account: str
    campaign_id: str
    group_id: str
    value: float
    currency: str
    tickets: int


@dataclass
class _UnitSpend:
    total: float = 0.0
    by_day: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    by_week: dict[tuple[int, int], float] = field(default_factory=lambda: defaultdict(float))
    by_month: dict[tuple[int, int], float] = field(default_factory=lambda: defaultdict(float))
    # The highest daily budget in force on each day: Google caps a day at twice it.
    highest_by_day: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    # Google's charging limit of each calendar month, and the daily budget it was set for.
    month_limit: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)


def _google_month_room(spent: _UnitSpend, daily: float, began: datetime) -> float:
    """What the month of `began` may still spend under Google's monthly charging limit,
    as its help states the limit: 30.4 daily budgets for a budget unchanged since the
    month began; after a change (or a launch) during the month, what the month already
    spent plus the new budget for each day left in it, the day of the change included.
    Held as 30.4 x the budget in force, a cut late in a month stopped a campaign for
    days (its month had spent more than 30.4 new budgets), which Google does not do."""
    month = (began.year, began.month)
    known = spent.month_limit.get(month)
    if known is None or known[1] != daily:
        if known is None and began.day == 1 and spent.by_month[month] == 0:
            limit = GOOGLE_MONTHLY_CAP_DAILY_BUDGETS * daily
        else:
            days_left = calendar.monthrange(began.year, began.month)[1] - began.day + 1
            limit = spent.by_month[month] + daily * days_left
        spent.month_limit[month] = (limit, daily)
    return spent.month_limit[month][0] - spent.by_month[month]


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.default_rng(list(entropy))


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _utm(url: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(urlsplit(url).query) if k.startswith("utm_")}


def _click_url(url: str, param: str, click_id: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{param}={click_id}"


class Market:
    """A scenario's market running inside one sandbox state.

    Use `Market(scenario, state)` (or `Market(scenario)` for a fresh state), create
    campaigns through the sandbox's endpoints or `usher.sandbox.market.campaigns`, then
    `advance(hours=...)`, and read `reports` through the endpoints, `truth()`,
    `purchases()` and `visits()`.
    """

    def __init__(
        self, scenario: Scenario, state: SandboxState | None = None, seed: int | None = None
    ) -> None:
        self.scenario = scenario if seed is None else scenario.with_changes(seed=seed)
        self.state = state or SandboxState()
        self.start_ts = self.scenario.start.timestamp()
        self.now_ts = self.start_ts
        self._snapshot: list[DeliveryUnit] = []
        # (platform, account, object type, id) -> flight hour -> LEDGER columns
        self._ledger: dict[tuple[str, str, str, str], dict[int, list[float]]] = {}
        self._spent: dict[str, _UnitSpend] = defaultdict(_UnitSpend)
        self._overdelivery: dict[tuple[str, int], float] = {}
        self._truth: list[HourTruth] = []
        self._purchases: list[Purchase] = []
        self._hour_purchases: list[Purchase] = []
        self._purchases_of_hour: dict[int, tuple[int, int]] = {}  # flight hour -> slice
        self._clicks: dict[int, dict[AdSlot, int]] = defaultdict(dict)
        self._warned: set[str] = set()
        self._saved_clock = self.state.clock
        self._saved_metrics = self.state.metrics
        with self.state.lock:
            self.state.clock = self.clock
            self.state.metrics = self
            self.state.market = self

    # --- campaigns (in-process; Usher itself goes through the platform endpoints) ---

    def create_campaign(
        self,
        platform: str,
        campaign_type: str,
        daily_budget: float | Decimal,
        creatives: list[str] | None = None,
        name: str | None = None,
        account: str | None = None,
        landing_url: str = campaigns.DEFAULT_LANDING_URL,
    ) -> campaigns.CampaignRef:
        """A live campaign tagged for the segment, one ad per creative (all by default)."""
        segment = self.scenario.segment_for(platform, campaign_type)
        if segment is None:
            raise ValueError(f"the scenario has no {platform} {campaign_type} segment")
        return campaigns.create_campaign(
            self.state,
            platform,
            name or f"{self.scenario.name} · {campaign_type} [{campaign_type}]",
            daily_budget,
            creatives or [creative.name for creative in segment.creatives],
            landing_url=landing_url,
            account=account,
        )

    def launch_equal_split(self) -> list[campaigns.CampaignRef]:
        """The equal_split strategy: one campaign per segment, same daily budget, all on."""
        budget = model.equal_split_daily_budget(self.scenario)
        return [
            self.create_campaign(segment.platform, segment.campaign_type, budget)
            for segment in self.scenario.segments
        ]

    # --- the clock ---

    def clock(self) -> float:
        return self.now_ts

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts, UTC)

    @property
    def hour(self) -> int:
        """The flight hour the clock is in (negative never; past the flight allowed)."""
        return math.floor((self.now_ts - self.start_ts) / SECONDS_PER_HOUR)

    def detach(self) -> None:
        """Give the state its own clock and metrics back (unloading the scenario)."""
        with self.state.lock:
            self.state.clock = self._saved_clock
            self.state.metrics = self._saved_metrics
            self.state.market = None

    def advance(self, minutes: float = 0, hours: float = 0, days: float = 0) -> int:
        """Move the clock forward, delivering every whole hour passed; returns hours delivered."""
        seconds = minutes * 60 + hours * SECONDS_PER_HOUR + days * HOURS_PER_DAY * SECONDS_PER_HOUR
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("the clock only moves forward")
        target = self.now_ts + seconds
        delivered = 0
        with self.state.lock:
            if self._on_boundary():
                self._take_snapshot()
            while True:
                boundary = self.start_ts + (self.hour + 1) * SECONDS_PER_HOUR
                if boundary > target:
                    break
                self._deliver(self.hour, self._snapshot)
                delivered += 1
                self.now_ts = boundary
                self._take_snapshot()
            self.now_ts = target
            self.state.dirty = True
        return delivered

    def run_to_end(self) -> int:
        """Advance to the end of the flight."""
        remaining = self.scenario.end.timestamp() - self.now_ts
        return self.advance(hours=max(remaining, 0) / SECONDS_PER_HOUR)

    def _on_boundary(self) -> bool:
        return (self.now_ts - self.start_ts) % SECONDS_PER_HOUR == 0

    def _take_snapshot(self) -> None:
        at = datetime.fromtimestamp(self.now_ts, UTC)
        self._snapshot = delivery_units(self.state, self.scenario, at, self._warned)

    # --- delivery of one hour ---

    def _deliver(self, hour: int, units: list[DeliveryUnit]) -> None:
        scenario = self.scenario
        if not 0 <= hour < scenario.hours:
            return  # before or after the flight: the event's market is closed
        day = hour // HOURS_PER_DAY
        began = scenario.start + timedelta(hours=hour)
        share = scenario.hourly[began.hour]
        spend_by_ad: dict[AdSlot, float] = {}
        for ads in self._hour_spend(units, day, began, share):
            for ad, amount in ads.items():
                if amount > 0:
                    spend_by_ad[ad] = spend_by_ad.get(ad, 0.0) + amount
        by_segment: dict[int, list[tuple[AdSlot, float]]] = defaultdict(list)
        for ad, amount in spend_by_ad.items():
            by_segment[ad.segment].append((ad, amount))
        for index in sorted(by_segment):
            self._deliver_segment(
                scenario.segments[index], hour, day, began, share, by_segment[index]
            )
        self._hour_purchases.sort(key=lambda p: (p.time, p.ad_id))
        first = len(self._purchases)
        for purchase in self._hour_purchases:
            seq = len(self._purchases) + 1
            self._purchases.append(
                replace(purchase, seq=seq, order_id=f"SIM-{self.scenario.seed}-{seq:07d}")
            )
        self._purchases_of_hour[hour] = (first, len(self._purchases))
        self._hour_purchases.clear()

    def _hour_spend(
        self, units: list[DeliveryUnit], day: int, began: datetime, share: float
    ) -> Iterator[dict[AdSlot, float]]:
        """Each unit's spend this hour per ad, within the segment and platform caps."""
        unit_day = {
            unit.key: self._day_budget(unit, day) * self._overdelivery_factor(unit, day)
            for unit in units
        }
        capped: dict[str, float] = defaultdict(float)
        for unit in units:
            if unit.cap_key:
                capped[unit.cap_key] += unit_day[unit.key]
        for unit in units:
            if unit.cap_key and unit.cap_daily and capped[unit.cap_key] > unit.cap_daily:
                unit_day[unit.key] *= unit.cap_daily / capped[unit.cap_key]
        desired: dict[tuple[str, AdSlot], float] = {}
        campaign_day: dict[tuple[str, str], float] = defaultdict(float)
        for unit in units:
            for ad in unit.ads:
                amount = unit_day[unit.key] * ad.weight
                desired[(unit.key, ad)] = amount
                campaign_day[(ad.platform, ad.campaign_id)] += amount
        for unit in units:
            ads: dict[AdSlot, float] = {}
            for ad in unit.ads:
                amount = desired[(unit.key, ad)]
                cap = self.scenario.segments[ad.segment].max_daily_spend
                planned = campaign_day[(ad.platform, ad.campaign_id)]
                if cap is not None and planned > cap:
                    amount *= cap / planned
                ads[ad] = share * amount
            total = sum(ads.values())
            allowed = self._allowance(unit, day, began)
            if total > allowed:
                scale = max(allowed, 0.0) / total
                ads = {ad: amount * scale for ad, amount in ads.items()}
                total = sum(ads.values())
            self._book_unit(unit.key, day, began, total)
            yield ads

    def _day_budget(self, unit: DeliveryUnit, day: int) -> float:
        if unit.daily_budget:
            return unit.daily_budget
        lifetime = unit.lifetime_budget or 0.0
        spent = self._spent[unit.key]
        before_today = spent.total - spent.by_day.get(day, 0.0)
        day_start = self.scenario.start + timedelta(days=day)
        end = unit.end_time or self.scenario.end
        remaining_days = max(1, math.ceil((end - day_start).total_seconds() / 86400))
        return max(lifetime - before_today, 0.0) / remaining_days

    def _overdelivery_factor(self, unit: DeliveryUnit, day: int) -> float:
        spread = self.scenario.overdelivery
        if spread <= 0:
            return 1.0
        key = (unit.key, day)
        if key not in self._overdelivery:
            rng = _rng(self.scenario.seed, STREAM_OVERDELIVERY, _stable_hash(unit.key), day)
            self._overdelivery[key] = float(rng.uniform(1 - spread, 1 + spread))
        return self._overdelivery[key]

    def _allowance(self, unit: DeliveryUnit, day: int, began: datetime) -> float:
        """What the platform still lets this budget spend (its weekly/daily/lifetime caps)."""
        spent = self._spent[unit.key]
        if not unit.daily_budget:
            return (unit.lifetime_budget or 0.0) - spent.total
        daily = unit.daily_budget
        if unit.platform in CAPS_BY_WEEK:
            week = began.isocalendar()[:2]
            return WEEKLY_CAP_DAILY_BUDGETS * daily - spent.by_week[week]
        spent.highest_by_day[day] = max(spent.highest_by_day[day], daily)
        return min(
            GOOGLE_DAILY_CAP_DAILY_BUDGETS * spent.highest_by_day[day] - spent.by_day[day],
            _google_month_room(spent, daily, began),
        )

    def _book_unit(self, key: str, day: int, began: datetime, amount: float) -> None:
        spent = self._spent[key]
        spent.total += amount
        spent.by_day[day] += amount
        spent.by_week[began.isocalendar()[:2]] += amount
        spent.by_month[(began.year, began.month)] += amount

    def _deliver_segment(
        self,
        segment: Segment,
        hour: int,
        day: int,
        began: datetime,
        share: float,
        ads: list[tuple[AdSlot, float]],
    ) -> None:
        ads.sort(key=lambda item: (item[0].platform, item[0].ad_id))
        spend = sum(amount for _, amount in ads)
        performance = [segment.creatives[ad.creative].performance for ad, _ in ads]
        weighted = [amount * perf for (_, amount), perf in zip(ads, performance, strict=True)]
        q = sum(weighted) / spend
        expected = model.hourly_expected_conversions(segment, self.scenario, day, share, spend, q)
        rng = _rng(self.scenario.seed, STREAM_HOUR, segment.index, hour)
        realized = int(rng.poisson(expected))
        counts = rng.multinomial(realized, np.array(weighted) / sum(weighted))
        # Whole-segment draws (one numpy call each), then split over the ads by counts.
        amounts = np.array([amount for _, amount in ads])
        impressions = np.rint(amounts / segment.cpm * 1000).astype(np.int64)
        clicks = rng.binomial(impressions, np.minimum(1.0, segment.ctr * np.array(performance)))
        sigma2 = math.log1p(segment.order_value_cv**2)
        factors = (
            rng.lognormal(-sigma2 / 2, math.sqrt(sigma2), size=realized)
            if sigma2 > 0
            else np.ones(realized)
        )
        values = np.round(segment.average_order_value * factors, 2)  # orders are in cents
        tickets = 1 + rng.poisson(max(segment.tickets_per_order - 1, 0.0), size=realized)
        offsets = rng.random(realized) * SECONDS_PER_HOUR
        ends = np.cumsum(counts)
        factor = segment.platform_reporting_factor
        for index, (ad, amount) in enumerate(ads):
            self._clicks[hour][ad] = int(clicks[index])
            mine = slice(int(ends[index] - counts[index]), int(ends[index]))
            for offset, value, ticket_count in zip(
                np.sort(offsets[mine]), values[mine], tickets[mine], strict=True
            ):
                at = began + timedelta(seconds=float(offset))
                self._purchase(ad, segment, at, rng, value, ticket_count)
            count, value_sum = int(counts[index]), float(values[mine].sum())
            row = (
                int(impressions[index]),
                int(clicks[index]),
                amount,
                count,
                value_sum,
                count * factor,
                value_sum * factor,
            )
            for object_type, object_id in ad.rollup:
                per_hour = self._ledger.setdefault(
                    (ad.platform, ad.account, object_type, object_id), {}
                )
                booked = per_hour.setdefault(hour, [0.0] * LEDGER_COLUMNS)
                for column, value in enumerate(row):
                    booked[column] += value
        revenue = float(values.sum())
        impressions_total, clicks_total = int(impressions.sum()), int(clicks.sum())
        tickets_total = int(tickets.sum())
        self._truth.append(
            HourTruth(
                hour=hour,
                time=began,
                platform=segment.platform,
                campaign_type=segment.campaign_type,
                spend=spend,
                expected_conversions=expected,
                expected_revenue=expected * segment.average_order_value,
                conversions=realized,
                revenue=revenue,
                impressions=impressions_total,
                clicks=clicks_total,
                tickets=tickets_total,
            )
        )

    def _purchase(
        self,
        ad: AdSlot,
        segment: Segment,
        at: datetime,
        rng: np.random.Generator,
        value: float,
        tickets: int,
    ) -> None:
        """Book a purchase of this hour; numbered once the hour's are in time order."""
        param = CLICK_ID_PARAMS[ad.platform]
        click_id = self._click_id(ad.platform, rng)
        self._hour_purchases.append(
            Purchase(
                seq=0,
                order_id="",
                time=at,
                platform=ad.platform,
                account=ad.account,
                campaign_id=ad.campaign_id,
                group_id=ad.group_id,
                ad_id=ad.ad_id,
                campaign_type=segment.campaign_type,
                click_id_param=param,
                click_id=click_id,
                landing_url=_click_url(ad.landing_url, param, click_id),
                utm=_utm(ad.landing_url),
                value=float(value),
                currency=self.scenario.currency,
                tickets=int(tickets),
            )
        )

    @staticmethod
    def _click_id(platform: str, rng: np.random.Generator) -> str:
        raw = base64.urlsafe_b64encode(rng.bytes(CLICK_ID_BYTES)).decode().rstrip("=")
        return CLICK_ID_PREFIXES[platform] + raw

    # --- what Usher may see: reports, through the MetricsSource seam ---

    def metrics_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Metrics:
        """One object's reported delivery on one day of the account's time zone."""
        totals = [0.0] * LEDGER_COLUMNS
        for _, row in self._visible(platform, account, object_type, object_id, day):
            for column, value in enumerate(row):
                totals[column] += value
        return _metrics(totals)

    def hourly_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> list[tuple[int, Metrics]]:
        """(hour of the local day, reported delivery) for the hours that delivered."""
        return [
            (local_hour, _metrics(row))
            for local_hour, row in self._visible(platform, account, object_type, object_id, day)
        ]

    def _visible(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Iterator[tuple[int, list[float]]]:
        per_hour = self._ledger.get((platform, account, object_type, object_id))
        if not per_hour:
            return
        zone = account_zone(self.state, platform, account)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        first = math.floor((midnight.timestamp() - self.start_ts) / SECONDS_PER_HOUR)
        last = math.floor(
            ((midnight + timedelta(days=1)).timestamp() - self.start_ts) / SECONDS_PER_HOUR
        )
        delay = self.scenario.reporting_delay_hours * SECONDS_PER_HOUR
        for hour in range(max(first, 0), last):
            row = per_hour.get(hour)
            if row is None:
                continue
            ended = self.start_ts + (hour + 1) * SECONDS_PER_HOUR
            if ended + delay > self.now_ts:
                break
            local = datetime.fromtimestamp(ended - SECONDS_PER_HOUR, zone)
            yield local.hour, row

    def outage(self, platform: str) -> str | None:
        """The error mode of a scenario outage of this platform now, if any."""
        elapsed = (self.now_ts - self.start_ts) / SECONDS_PER_HOUR
        for outage in self.scenario.outages:
            if outage.platform == platform and outage.from_hour <= elapsed < outage.to_hour:
                return outage.error
        return None

    # --- the truth and the closed loop (benchmarks and tests; never Usher) ---

    def truth(self) -> list[HourTruth]:
        """Per segment and hour: spend, expected and realized conversions and revenue."""
        return list(self._truth)

    def totals(self) -> dict[str, Any]:
        """The truth summed over the flight so far, in the simulate CLI's JSON shape."""
        segments = []
        for segment in self.scenario.segments:
            rows = [
                r
                for r in self._truth
                if (r.platform, r.campaign_type) == (segment.platform, segment.campaign_type)
            ]
            segments.append(
                {
                    "platform": segment.platform,
                    "campaign_type": segment.campaign_type,
                    "spend": round(sum(r.spend for r in rows), 6),
                    "expected_revenue": round(sum(r.expected_revenue for r in rows), 6),
                    "realized_revenue": round(sum(r.revenue for r in rows), 6),
                    "conversions": sum(r.conversions for r in rows),
                }
            )
        return {
            "scenario": self.scenario.name,
            "expected_revenue": round(sum(s["expected_revenue"] for s in segments), 6),
            "realized_revenue": round(sum(s["realized_revenue"] for s in segments), 6),
            "spend": round(sum(s["spend"] for s in segments), 6),
            "segments": segments,
        }

    def purchases(self, after_seq: int = 0, until: datetime | None = None) -> list[Purchase]:
        """Realized purchases in time order, after a sequence number, up to the clock."""
        limit = until or self.now
        return [p for p in self._purchases[after_seq:] if p.time <= limit]

    def visits(self, hour: int, per_ad: int | None = None) -> list[Visit]:
        """The clicks of one flight hour as landing-page visits, in time order.

        Every purchase's click is a visit; other clicks get fresh click ids. `per_ad`
        caps the visits per ad (a sample: the purchases' clicks first), since a busy
        hour can have thousands of clicks and a demo needs only their shape.
        """
        if not 0 <= hour < self.scenario.hours:
            return []
        began = self.scenario.start + timedelta(hours=hour)
        bought = defaultdict(list)
        first, last = self._purchases_of_hour.get(hour, (0, 0))
        for purchase in self._purchases[first:last]:
            bought[purchase.ad_id].append(purchase)
        visits = []
        param = CLICK_ID_PARAMS
        for ad, clicks in sorted(self._clicks.get(hour, {}).items(), key=lambda i: i[0].ad_id):
            wanted = clicks if per_ad is None else min(clicks, per_ad)
            campaign_type = self.scenario.segments[ad.segment].campaign_type
            for purchase in bought.get(ad.ad_id, [])[:wanted]:
                landed = {f.name: getattr(purchase, f.name) for f in fields(Visit)}
                landed["time"] = max(purchase.time - VISIT_BEFORE_PURCHASE, began)
                visits.append(Visit(**landed))
            extra = wanted - min(wanted, len(bought.get(ad.ad_id, [])))
            rng = _rng(self.scenario.seed, STREAM_VISITS, _stable_hash(ad.ad_id), hour)
            for offset in np.sort(rng.random(extra)) * SECONDS_PER_HOUR:
                click_id = self._click_id(ad.platform, rng)
                visits.append(
                    Visit(
                        began + timedelta(seconds=float(offset)),
                        ad.platform,
                        ad.ad_id,
                        campaign_type,
                        param[ad.platform],
                        click_id,
                        _click_url(ad.landing_url, param[ad.platform], click_id),
                        _utm(ad.landing_url),
                    )
                )
        return sorted(visits, key=lambda visit: (visit.time, visit.ad_id, visit.click_id))

    def status(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "start": self.scenario.start.isoformat(),
            "end": self.scenario.end.isoformat(),
            "now": self.now.isoformat(),
            "hour": self.hour,
            "hours_in_flight": self.scenario.hours,
            "live_budgets": len(self._snapshot),
            "purchases": len(self._purchases),
        }


def _metrics(row: list[float]) -> Metrics:
    impressions = int(row[IMPRESSIONS])
    return Metrics(
        impressions=impressions,
        reach=int(impressions / REPORTED_FREQUENCY),
        clicks=int(row[CLICKS]),
        spend=Decimal(f"{row[SPEND]:.6f}"),
        conversions=float(row[REPORTED_CONVERSIONS]),
        conversion_value=Decimal(f"{row[REPORTED_VALUE]:.6f}"),
    )
