"""Staff's view of the outbox: scoped to their client, secrets never shown, replay works."""

from __future__ import annotations

import pytest

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.tests.conftest import TIKTOK_PIXEL, ingest_order
from usher.marketplace.tests.factories import MarketplaceClientFactory, staff_user

pytestmark = pytest.mark.django_db


def staff(client_model, username="staff"):
    return staff_user(client_model, "conversions", username)


def test_staff_see_their_deliveries_and_batches_without_secrets(
    sandbox, ingest, marketplace, wiring, django_capture_on_commit_callbacks, client
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    client.force_login(staff(marketplace))
    deliveries = client.get("/admin/conversions/conversiondelivery/").content.decode()
    batches = client.get("/admin/conversions/deliverybatch/").content.decode()
    assert "order-ord-1" in deliveries
    assert (
        "uploadClickConversions"
        in client.get(
            f"/admin/conversions/deliverybatch/{wiring.google.deliveries.get().last_batch_id}/change/"
        ).content.decode()
    )
    for page in (deliveries, batches):
        assert "sandbox-organizer" not in page

    client.force_login(staff(MarketplaceClientFactory(), username="other-staff"))
    assert (
        "order-ord-1" not in client.get("/admin/conversions/conversiondelivery/").content.decode()
    )


def test_the_replay_action_resends_a_rejected_delivery(
    sandbox, ingest, marketplace, wiring, django_capture_on_commit_callbacks, client
):
    sandbox.account(platform="tiktok", account_id=TIKTOK_PIXEL, tokens=["sandbox-other"])
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    rejected = wiring.tiktok.deliveries.get()
    assert rejected.status == DeliveryStatus.REJECTED

    sandbox.account(platform="tiktok", account_id=TIKTOK_PIXEL, tokens=["sandbox-organizer-tiktok"])
    client.force_login(staff(marketplace))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/conversions/conversiondelivery/",
            {"action": "replay", "_selected_action": [rejected.pk]},
        )
    assert response.status_code == 302
    assert ConversionDelivery.objects.get(pk=rejected.pk).status == DeliveryStatus.DELIVERED
