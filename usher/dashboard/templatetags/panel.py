"""Numbers in the organizer's locale: money with its currency, ratios, counts; the
optimizer's advice in the organizer's language."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from usher.campaigns.models import OptimizationLogEntry

register = template.Library()

NOTHING = "\u2013"  # shown where a ratio means nothing (no spend, no sale)


@register.filter
def money(value: Decimal | None, currency: str = "") -> str:
    """1234.5 → "1,234.50 RON" in English, "1.234,50 RON" in Romanian."""
    if value is None:
        return NOTHING
    amount = number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{amount} {currency}".strip()


@register.filter
def decimal2(value: Decimal | None) -> str:
    """A ratio (ROAS) or a fractional count to two decimals, grouped per locale."""
    if value is None:
        return NOTHING
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


@register.filter
def count(value: int | Decimal | None) -> str:
    """A whole count, grouped per locale."""
    if value is None:
        return NOTHING
    return number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)


def _number(numbers: dict, key: str) -> Decimal | None:
    try:
        return Decimal(str(numbers[key]))
    except (KeyError, ArithmeticError, ValueError):
        return None


@register.filter
def advice(entry: OptimizationLogEntry) -> str:
    """A `recommendation` row as a sentence in the page's language, from its numbers.

    The optimizer writes its reason in English for the log and the API; the panel speaks
    the organizer's language, so each kind of advice has its own translated sentence.
    Advice of a kind this page does not know yet falls back to the logged reason."""
    numbers = entry.numbers or {}
    kind = numbers.get("recommendation")
    if kind == "raise_budget":
        extra, tickets, roas = (
            _number(numbers, key) for key in ("extra_money", "extra_tickets", "roas_of_extra_money")
        )
        if extra is not None and tickets is not None and roas is not None:
            return _(
                "Raise the budget by %(money)s: expected +%(tickets)s tickets at ROAS %(roas)sx."
            ) % {
                "money": money(extra, entry.budget.currency),
                "tickets": count(tickets),
                "roas": decimal2(roas),
            }
    elif kind == "saturated":
        marginal, average = (_number(numbers, key) for key in ("marginal_roas", "average_roas"))
        if marginal is not None and average is not None:
            return _(
                "Saturated: more money here returns ROAS %(marginal)sx, against %(average)sx "
                "on average so far; the next money does more elsewhere."
            ) % {"marginal": decimal2(marginal), "average": decimal2(average)}
    elif kind == "pause_creative":
        probability = _number(numbers, "probability")
        if probability is not None:
            return _(
                "Creative “%(creative)s” is losing (%(probability)s%% likely that another "
                "sells better): pause it."
            ) % {
                "creative": numbers.get("creative", ""),
                "probability": count(probability * 100),
            }
    return entry.reason
