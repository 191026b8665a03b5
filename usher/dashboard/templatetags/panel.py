"""Numbers in the organizer's locale: money with its currency, ratios, counts."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format

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
