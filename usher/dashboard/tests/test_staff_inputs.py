"""The dashboards' period and ratios, without a database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from usher.dashboard.staff.forms import MAX_PERIOD_DAYS, CampaignOverrideForm, PeriodForm
from usher.dashboard.staff.queries import Period, Totals


def test_no_period_means_the_last_30_days_up_to_today():
    form = PeriodForm({})
    assert form.is_valid()
    today = timezone.now().date()
    assert form.cleaned_data["period"] == Period(today - timedelta(days=29), today)


def test_a_period_longer_than_a_year_is_refused_on_start():
    end = date(2026, 12, 31)
    form = PeriodForm({"start": end - timedelta(days=MAX_PERIOD_DAYS), "end": end})
    assert not form.is_valid() and "start" in form.errors
    ok = PeriodForm({"start": end - timedelta(days=MAX_PERIOD_DAYS - 1), "end": end})
    assert ok.is_valid()


def test_a_period_counts_both_ends_in_utc():
    period = Period(date(2026, 3, 1), date(2026, 3, 3))
    assert period.days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert period.end_before - period.start_at == timedelta(days=3)
    assert period.start_at.utcoffset() == timedelta(0)


def test_ratios_are_of_the_sums_and_absent_without_spend_or_sales():
    totals = Totals("RON", Decimal("200"), Decimal("9"), Decimal("900"), 4, Decimal("700"))
    assert totals.roas == Decimal("3.50") and totals.cpa == Decimal("50.00")
    nothing = Totals("RON", Decimal("0"), Decimal("0"), Decimal("0"), 0, Decimal("0"))
    assert nothing.roas is None and nothing.cpa is None


def test_a_negative_daily_budget_is_refused():
    form = CampaignOverrideForm({"action": "daily_budget", "amount": "-1", "reason": "x"})
    assert not form.is_valid() and "amount" in form.errors
