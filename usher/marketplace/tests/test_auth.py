"""Authentication (401s), token revocation and tenant isolation (404s)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from conftest import JsonClient
from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import EventFactory, OrderFactory, OrganizerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ush_cli_wrong",
        "Basic dXNlcjpwYXNz",
        "Bearer ush_org_not-a-client-key",
    ],
)
def test_ingest_without_a_valid_client_key_is_401(marketplace, header):
    client = JsonClient()
    headers = {"Authorization": header} if header else {}
    response = client.put(
        "/api/ingest/organizers", {"external_id": "o", "name": "x"}, headers=headers
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_organizer_token_cannot_use_the_ingest_api(organizer_api):
    response = organizer_api.put("/api/ingest/organizers", {"external_id": "o", "name": "x"})
    assert response.status_code == 401


def test_a_rotated_client_key_stops_working(marketplace, ingest):
    marketplace.rotate_api_key()
    assert (
        ingest.put("/api/ingest/organizers", {"external_id": "o", "name": "x"}).status_code == 401
    )


def test_organizer_endpoints_need_a_token(organizer):
    assert JsonClient().get("/api/marketplace-client/organizer/me").status_code == 401
    assert (
        JsonClient("ush_org_bogus").get("/api/marketplace-client/organizer/me").status_code == 401
    )


def test_a_token_acts_for_its_organizer_and_is_stored_hashed(organizer):
    token, secret = OrganizerApiToken.issue(organizer)
    response = JsonClient(secret).get("/api/marketplace-client/organizer/me")
    assert response.status_code == 200
    assert response.json()["id"] == organizer.pk
    token.refresh_from_db()
    assert secret not in (token.token_hash, token.token_prefix)
    assert token.last_used_at is not None


def test_a_revoked_token_is_rejected(organizer):
    token, secret = OrganizerApiToken.issue(organizer)
    call_command("revoke_organizer_token", token.token_prefix)
    assert JsonClient(secret).get("/api/marketplace-client/organizer/me").status_code == 401


def test_a_suspended_organizer_token_is_rejected(organizer, organizer_api):
    organizer.status = "suspended"
    organizer.save()
    assert organizer_api.get("/api/marketplace-client/organizer/me").status_code == 401


def test_another_organizers_event_is_404_even_in_the_same_marketplace(organizer, organizer_api):
    own = EventFactory(organizer=organizer)
    neighbour = EventFactory(organizer=OrganizerFactory(client=organizer.client))
    assert (
        organizer_api.get(f"/api/marketplace-client/organizer/events/{own.pk}").status_code == 200
    )
    response = organizer_api.get(f"/api/marketplace-client/organizer/events/{neighbour.pk}")
    assert response.status_code == 404
    assert neighbour.name not in response.content.decode()


def test_another_marketplaces_event_is_404(organizer_api):
    foreign = EventFactory()
    assert (
        organizer_api.get(f"/api/marketplace-client/organizer/events/{foreign.pk}").status_code
        == 404
    )


def test_lists_show_only_the_organizers_own_rows(organizer, organizer_api):
    own = OrderFactory(event=EventFactory(organizer=organizer))
    OrderFactory(event=EventFactory(organizer=OrganizerFactory(client=organizer.client)))
    OrderFactory()
    events = organizer_api.get("/api/marketplace-client/organizer/events").json()
    orders = organizer_api.get("/api/marketplace-client/organizer/orders").json()
    assert [e["id"] for e in events["items"]] == [own.event_id]
    assert [o["id"] for o in orders["items"]] == [own.pk]


def test_issue_organizer_token_command_prints_a_working_token(organizer, capsys):
    call_command(
        "issue_organizer_token", client=organizer.client.slug, organizer=organizer.external_id
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert JsonClient(secret).get("/api/marketplace-client/organizer/me").status_code == 200


def test_revoking_leaves_already_revoked_tokens_their_date(organizer):
    from datetime import timedelta

    from django.utils import timezone

    old, _ = OrganizerApiToken.issue(organizer)
    long_ago = timezone.now() - timedelta(days=30)
    OrganizerApiToken.objects.filter(pk=old.pk).update(revoked_at=long_ago)
    live, _ = OrganizerApiToken.issue(organizer)
    assert OrganizerApiToken.objects.filter(organizer=organizer).revoke() == 1
    old.refresh_from_db()
    live.refresh_from_db()
    assert old.revoked_at == long_ago and live.revoked_at is not None
