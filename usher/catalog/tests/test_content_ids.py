"""One content id per event in pixels, tracker.js's config document and the catalog,
unchanged by a slug rename (conversions: usher/conversions/tests/test_pipeline.py)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from usher.catalog.items import build_item
from usher.catalog.tests.conftest import sellable_event
from usher.marketplace.content_ids import event_content_id
from usher.tracking.public_config import event_config
from usher.tracking.snippets import PageContext, PageType, page_events

pytestmark = pytest.mark.django_db


def test_pixels_the_config_document_and_the_catalog_name_an_event_alike(marketplace, organizer):
    event = sellable_event(organizer, external_id="core-4411", slug="rock-night")
    document = json.loads(event_config(marketplace, "rock-night").body)
    page = PageContext(page_type=PageType.EVENT, content_id=event_content_id(event))
    pixel_ids = {ids for e in page_events(page) for ids in e.content_ids}
    item = build_item(event, now=timezone.now()).item
    assert item is not None
    assert document["event"]["content_id"] == item.content_id == "core-4411"
    assert pixel_ids == {"core-4411"}

    event.slug = "rock-night-2027"
    event.save()
    renamed = json.loads(event_config(marketplace, "rock-night-2027").body)
    assert renamed["event"]["content_id"] == "core-4411"
