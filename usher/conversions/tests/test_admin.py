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


def test_every_try_of_a_delivery_is_kept_and_shown_to_staff(
    sandbox, ingest, marketplace, wiring, django_capture_on_commit_callbacks, client
):
    from datetime import timedelta

    from django.utils import timezone

    from usher.conversions import dispatch
    from usher.conversions.models import DeliveryBatch

    sandbox.fault(platform="tiktok", account=TIKTOK_PIXEL, mode="5xx", count=1)
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)  # first try: a 5xx
    delivery = wiring.tiktok.deliveries.get()
    dispatch.dispatch_destination(delivery.destination_key, now=timezone.now() + timedelta(hours=1))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED

    tries = list(delivery.batches.order_by("created_at"))
    assert [b.response_status for b in tries] == [500, 200]
    assert tries[-1].pk == delivery.last_batch_id
    # Each call is linked to every delivery it carried, and only to those.
    for batch in DeliveryBatch.objects.all():
        assert batch.deliveries.count() == batch.events_count

    client.force_login(staff(marketplace))
    page = client.get(f"/admin/conversions/conversiondelivery/{delivery.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    for batch in tries:
        assert f"/admin/conversions/deliverybatch/{batch.pk}/change/" in html
    assert "transient" in html  # the first try's error is still there
