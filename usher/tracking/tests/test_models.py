"""Database-level guarantees: uniqueness (partial unique indexes) and encrypted credentials."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from usher.lib.crypto import SecretDecryptionError, decrypt_secret
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.tests.factories import EventTrackingCodeFactory, MarketplaceTrackingCodeFactory

pytestmark = pytest.mark.django_db

TOKEN = "EAAB-plaintext-token-1234567890"


def test_two_defaults_for_one_provider_are_refused_by_the_database(organizer):
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventTrackingCodeFactory(organizer=organizer, provider="meta")


def test_two_codes_for_one_event_and_provider_are_refused_by_the_database(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")


def test_a_default_and_event_codes_of_one_provider_coexist(organizer, event):
    other_event = EventFactory(organizer=organizer, client=organizer.client)
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    EventTrackingCodeFactory(organizer=organizer, event=other_event, provider="meta")
    EventTrackingCodeFactory(
        organizer=organizer,
        event=event,
        provider="ga4",
        settings={"measurement_id": "G-PSW1MY7HB4"},
    )
    EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client), provider="meta")
    assert EventTrackingCode.objects.count() == 5


def test_an_unknown_provider_is_refused_by_the_database(organizer):
    with pytest.raises(IntegrityError), transaction.atomic():
        EventTrackingCodeFactory(organizer=organizer, provider="snapchat")


def test_the_access_token_is_encrypted_at_rest(organizer, fernet_keys):
    code = EventTrackingCodeFactory(organizer=organizer)
    code.set_secret("access_token", TOKEN)
    code.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, settings FROM tracking_eventtrackingcode WHERE id = %s",
            [code.pk],
        )
        raw, raw_settings = cursor.fetchone()
    assert TOKEN not in raw and TOKEN not in str(raw_settings)
    assert decrypt_secret(raw) == TOKEN
    fresh = EventTrackingCode.objects.get(pk=code.pk)
    assert fresh.has_access_token and fresh.get_secret("access_token") == TOKEN
    assert TOKEN not in repr(fresh) and TOKEN not in str(fresh)


def test_removing_a_credential_clears_the_column(organizer):
    code = EventTrackingCodeFactory(organizer=organizer)
    code.set_secret("access_token", TOKEN)
    code.set_secret("access_token", None)
    assert not code.has_access_token and code.get_secret("access_token") is None


def test_rotate_secrets_reencrypts_under_the_newest_key(organizer, fernet_keys):
    (old, new), use = fernet_keys
    code = EventTrackingCodeFactory(organizer=organizer)
    code.set_secret("access_token", TOKEN)
    code.save()
    own = MarketplaceTrackingCodeFactory(
        client=organizer.client, provider="ga4", settings={"measurement_id": "G-PSW1MY7HB4"}
    )
    own.set_secret("api_secret", "ga4-secret")
    own.save()
    untouched = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    before = EventTrackingCode.objects.get(pk=code.pk).access_token_encrypted

    use(new, old)
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Rotated 2 row(s)" in out.getvalue()

    code.refresh_from_db()
    own.refresh_from_db()
    untouched.refresh_from_db()
    assert code.access_token_encrypted != before
    assert Fernet(new.encode()).decrypt(code.access_token_encrypted.encode()).decode() == TOKEN
    assert own.get_secret("api_secret") == "ga4-secret"
    assert untouched.access_token_encrypted == ""
    # The old key can be retired now.
    use(new)
    assert code.get_secret("access_token") == TOKEN
    use(old)
    with pytest.raises(SecretDecryptionError):
        code.get_secret("access_token")


def test_marketplace_codes_are_outside_every_organizer_scope(organizer):
    MarketplaceTrackingCodeFactory(client=organizer.client)
    assert MarketplaceTrackingCode.objects.for_organizer(organizer).count() == 0
    assert MarketplaceTrackingCode.objects.for_client(organizer.client).count() == 1
