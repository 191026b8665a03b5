"""Staff's view of audiences and their syncs: their marketplace's only, with refresh."""

from __future__ import annotations

import pytest

from usher.audiences.models import AudienceType
from usher.audiences.services import ensure_standard_audience
from usher.marketplace.tests.factories import OrganizerFactory, staff_user

pytestmark = pytest.mark.django_db


def staff(client_model, username="staff"):
    return staff_user(client_model, "audiences", username)


def test_staff_see_their_marketplaces_audiences_and_sync_log_only(client):
    mine = ensure_standard_audience(
        OrganizerFactory(name="Sunwave"), "meta", AudienceType.TICKET_BUYERS
    )
    mine.sync_logs.create(status="failed", message="Meta refused the list: Terms not accepted")
    theirs = ensure_standard_audience(
        OrganizerFactory(name="Elsewhere"), "meta", AudienceType.TICKET_BUYERS
    )

    client.force_login(staff(mine.client))
    audiences = client.get("/admin/audiences/remarketingaudience/").content.decode()
    logs = client.get("/admin/audiences/audiencesynclog/").content.decode()
    detail = client.get(f"/admin/audiences/remarketingaudience/{mine.pk}/change/").content.decode()

    assert "Sunwave" in audiences and "Elsewhere" not in audiences
    assert "Terms not accepted" in logs and "Terms not accepted" in detail
    assert (
        client.get(f"/admin/audiences/remarketingaudience/{theirs.pk}/change/").status_code == 302
    )


def test_the_refresh_action_rebuilds_the_selected_audiences(
    client, sandbox, django_capture_on_commit_callbacks
):
    audience = ensure_standard_audience(OrganizerFactory(), "meta", AudienceType.TICKET_BUYERS)
    client.force_login(staff(audience.client))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/audiences/remarketingaudience/",
            {"action": "refresh_now", "_selected_action": [audience.pk]},
        )
    assert response.status_code == 302
    audience.refresh_from_db()
    assert audience.last_built_at is not None
