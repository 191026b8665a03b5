"""An order's ticket lines as each platform takes them: Meta `contents`, TikTok
`contents`, GA4 `items`, with the item count everywhere it has a place."""

from __future__ import annotations

from decimal import Decimal

from usher.platforms.base import ContentLine
from usher.platforms.ga4.payloads import build_event as ga4_event
from usher.platforms.meta.payloads import custom_data as meta_custom_data
from usher.platforms.tests.helpers import order_event
from usher.platforms.tiktok.payloads import properties as tiktok_properties

LINES = [
    ContentLine("summer-fest", 1, Decimal("150.50"), "VIP", "vip"),
    ContentLine("summer-fest", 2, Decimal("45.00"), "General admission", "ga"),
]


def purchase(**fields):
    return order_event(content_ids=["summer-fest"], num_items=3, **fields)


def test_meta_gets_one_content_per_ticket_line_with_price_and_quantity() -> None:
    data = meta_custom_data(purchase(contents=LINES))

    assert data["content_ids"] == ["summer-fest"] and data["content_type"] == "product"
    assert data["contents"] == [
        {"id": "summer-fest", "quantity": 1, "item_price": 150.5, "title": "VIP"},
        {"id": "summer-fest", "quantity": 2, "item_price": 45.0, "title": "General admission"},
    ]
    assert data["num_items"] == 3


def test_tiktok_gets_one_content_per_ticket_line_with_name_price_and_quantity() -> None:
    data = tiktok_properties(purchase(contents=LINES))

    assert data["contents"] == [
        {"content_id": "summer-fest", "content_name": "VIP", "price": 150.5, "quantity": 1},
        {
            "content_id": "summer-fest",
            "content_name": "General admission",
            "price": 45.0,
            "quantity": 2,
        },
    ]
    assert data["content_ids"] == ["summer-fest"] and data["num_items"] == 3


def test_ga4_gets_one_item_per_ticket_line_with_the_ticket_type_as_variant() -> None:
    params = ga4_event(purchase(contents=LINES))["params"]

    assert params["items"] == [
        {
            "item_id": "summer-fest",
            "item_variant": "vip",
            "item_name": "VIP",
            "price": 150.5,
            "quantity": 1,
        },
        {
            "item_id": "summer-fest",
            "item_variant": "ga",
            "item_name": "General admission",
            "price": 45.0,
            "quantity": 2,
        },
    ]


def test_without_lines_the_event_is_the_content_and_the_ticket_count_its_quantity() -> None:
    event = purchase()

    assert meta_custom_data(event)["num_items"] == 3 and "contents" not in meta_custom_data(event)
    assert tiktok_properties(event)["contents"] == [{"content_id": "summer-fest"}]
    assert ga4_event(event)["params"]["items"] == [{"item_id": "summer-fest", "quantity": 3}]
