"""The standard event names: what tracker.js reports, the collector stores and every
platform maps to its own names.

A module of its own, free of models and of the tracking app, so the tracking codes
(which events a code receives), the event store and the conversions all import it
without `events` depending on `tracking`.
"""

from __future__ import annotations

from django.db import models


class StandardEvent(models.TextChoices):
    """Our event names; each provider maps them to its own."""

    PAGE_VIEW = "page_view", "Page view"
    VIEW_ITEM = "view_item", "View item"
    ADD_TO_CART = "add_to_cart", "Add to cart"
    BEGIN_CHECKOUT = "begin_checkout", "Begin checkout"
    PURCHASE = "purchase", "Purchase"
