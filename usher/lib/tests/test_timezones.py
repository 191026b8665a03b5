"""Time zone names: a typo is refused where it is typed, and a job reading one saved
before the check falls back to UTC instead of failing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from usher.campaigns.tests.factories import AdAccountFactory
from usher.lib.timezones import UTC_ZONE, validate_zone_name, zone_named


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
