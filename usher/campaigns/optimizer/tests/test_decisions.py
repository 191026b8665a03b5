"""Budgets leave the optimizer as Decimal cents, never rounded up."""

from __future__ import annotations

from decimal import Decimal

from usher.campaigns.optimizer.decisions import money


def test_money_rounds_down_to_the_cent():
    assert money(12.349) == Decimal("12.34")
    assert money(12.999) == Decimal("12.99")
    assert money(7.0) == Decimal("7.00")
    assert str(money(7.0)) == "7.00"


def test_money_is_exact_for_amounts_a_float_cannot_hold_exactly():
    # 0.29 is 0.28999... as a binary float: read through its shortest repr, not floored.
    assert money(0.29) == Decimal("0.29")
    assert money(1.1) == Decimal("1.10")


def test_a_negative_amount_is_no_money():
    assert money(-3.5) == Decimal("0.00")
    assert money(0.0) == Decimal("0.00")
