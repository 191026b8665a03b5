"""Ad accounts: which one a campaign runs on, and their credential at rest."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from usher.campaigns.accounts import ad_account_for, contract_account
from usher.campaigns.tests.factories import AdAccountFactory
from usher.lib.crypto import reset_key_cache

pytestmark = pytest.mark.django_db


def test_rotate_secrets_reencrypts_ad_account_credentials(settings, marketplace):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.USHER_ENCRYPTION_KEYS = [old]
    reset_key_cache()
    try:
        account = AdAccountFactory(client=marketplace, credential="EAAG-secret")
        settings.USHER_ENCRYPTION_KEYS = [new, old]
        reset_key_cache()
        call_command("rotate_secrets", stdout=io.StringIO())
        account.refresh_from_db()
        plain = Fernet(new.encode()).decrypt(account.credential_encrypted.encode())
        assert plain.decode() == "EAAG-secret"
    finally:
        reset_key_cache()


def test_the_organizers_connected_account_wins_and_a_disabled_one_does_not(marketplace, organizer):
    ours = AdAccountFactory(client=marketplace)
    theirs = AdAccountFactory(client=marketplace, organizer=organizer)
    assert ad_account_for(organizer, "meta") == theirs
    theirs.status = "disabled"
    theirs.save()
    assert ad_account_for(organizer, "meta") == ours
    AdAccountFactory(client=marketplace, organizer=organizer, credential="")  # not connected
    assert ad_account_for(organizer, "meta") == ours
    assert ad_account_for(organizer, "tiktok") is None


def test_google_gets_its_refresh_token_and_manager_where_the_contract_says(marketplace):
    account = AdAccountFactory(
        client=marketplace,
        platform="google_ads",
        account_id="1234567890",
        manager_id="9876543210",
        credential_kind="refresh_token",
        credential="1//refresh",
    )
    given = contract_account(account)
    assert given.access_token == ""
    assert given.settings == {"refresh_token": "1//refresh", "login_customer_id": "9876543210"}
    assert "refresh" not in repr(given)
