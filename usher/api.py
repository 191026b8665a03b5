"""The one NinjaAPI; each app contributes a router. OpenAPI docs at /api/docs."""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from usher.audiences.api import audiences_router, erasure_router
from usher.campaigns.api import campaigns_router
from usher.conversions.api import conversions_router
from usher.events.api import collector_router
from usher.lib.errors import Conflict, InvalidInput
from usher.marketplace.api import ingest_router, organizer_router
from usher.tracking.api import tracking_codes_router, tracking_config_router

api = NinjaAPI(
    title="Usher API",
    version="1",
    description=(
        "Per-organizer tracking codes, server-side conversions, audiences and campaigns. "
        "The ticketing core authenticates with the client's secret key; organizers with "
        "their API token (`Authorization: Bearer ...`)."
    ),
    urls_namespace="api",
)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request, {"detail": "Missing, invalid or revoked credentials."}, status=401
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(InvalidInput)
def on_invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    return api.create_response(request, {"detail": exc.as_detail()}, status=422)


@api.exception_handler(Conflict)
def on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    body = {"detail": exc.message, "existing_id": exc.existing_id}
    return api.create_response(request, body, status=409)


# The browser's hot paths first: Django tries URL patterns in order, and these take
# most of the traffic (none of the later patterns could match their paths).
api.add_router("/marketplace-client", tracking_config_router)
api.add_router("", collector_router)
api.add_router("/ingest", ingest_router)
api.add_router("/marketplace-client/organizer", organizer_router)
api.add_router("/marketplace-client/organizer/tracking-codes", tracking_codes_router)
api.add_router("/marketplace-client/organizer/conversions", conversions_router)
api.add_router("/marketplace-client/organizer/ads", campaigns_router)
api.add_router("/marketplace-client/organizer/audiences", audiences_router)
api.add_router("/ingest/buyers", erasure_router)
