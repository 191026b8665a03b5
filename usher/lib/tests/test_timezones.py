"""Time zone names: a typo is refused where it is typed, and a job reading one saved
before the check falls back to UTC instead of failing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from usher.campaigns.tests.factories import AdAccountFactory
from usher.lib.timezones import UTC_ZONE, local_date, validate_zone_name, zone_named


def test_a_known_zone_is_itself_and_an_unknown_or_empty_one_is_utc() -> None:
    assert str(zone_named("Europe/Bucharest")) == "Europe/Bucharest"
    assert zone_named("Europe/Bucharst") is UTC_ZONE
    assert zone_named("") is UTC_ZONE


@pytest.mark.django_db
def test_an_ad_account_or_marketplace_with_a_misspelt_zone_is_refused(marketplace) -> None:
    account = AdAccountFactory.build(client=marketplace, timezone="Europe/Bucharst")
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "Europe/Bucharst is not a time zone name" in str(refused.value.message_dict["timezone"])
    marketplace.timezone = "Mars/Olympus"
    with pytest.raises(ValidationError, match="not a time zone name"):
        marketplace.full_clean()
    validate_zone_name("America/New_York")  # a real one passes


def test_a_moments_local_date_is_the_zones_and_utcs_for_an_unknown_zone() -> None:
    late_evening_utc = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 00:30 in Bucharest
    assert local_date(late_evening_utc, "Europe/Bucharest") == date(2026, 12, 2)
    assert local_date(late_evening_utc, "America/New_York") == date(2026, 12, 1)
    assert local_date(late_evening_utc, "Mars/Olympus") == date(2026, 12, 1)
