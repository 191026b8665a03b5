"""Tracking-code API: the organizer's CRUD (organizer token) and the public
tracking-config documents tracker.js fetches (identified by the client's site key).

Thin: validation and writes are in `services`, resolution in `resolver`, the document in
`public_config`, CORS in `cors`.

The public documents are fetched on every page load, so `usher.urls` serves their paths
with plain Django views (`PLAIN_CONFIG_ROUTES`) ahead of the API's nested include: the
same functions as the documented operations, called without ninja's per-request work
(a temporal response, parameter models) or the include's URL resolution, which together
cost more than the document itself. The router's operations document them (OpenAPI);
its routes for those paths are never reached. The tests answer every kind of input both
ways and compare (`test_the_plain_routes_answer_every_input_as_the_api_does`).
"""

from collections.abc import Callable

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseNotModified,
    JsonResponse,
)
from django.views.decorators.csrf import csrf_exempt
from ninja import Query, Router, Status
from ninja.pagination import paginate

from usher.lib.cors import SITE_KEY_HEADER, apply_cors, preflight, site_key_of
from usher.lib.errors import InvalidInput, error_responses
from usher.lib.tenancy import get_for_organizer_or_404
from usher.lib.validation import parse_id
from usher.marketplace.auth import OrganizerTokenAuth
from usher.marketplace.models import MarketplaceClient
from usher.marketplace.services import client_by_site_key
from usher.tracking import services
from usher.tracking.models import EventTrackingCode
from usher.tracking.public_config import (
    ConfigDocument,
    etag_matches,
    event_config,
    marketplace_config,
    organizer_config,
    serve,
)
from usher.tracking.resolved import Provider
from usher.tracking.schemas import (
    EventTrackingConfigOut,
    MarketplaceTrackingConfigOut,
    OrganizerTrackingConfigOut,
    TrackingCodeIn,
    TrackingCodeOut,
    TrackingCodePatch,
)

# Browsers and CDNs may keep the answer but must revalidate it on every page load (a
# cheap 304 through the ETag), so an edited code shows on the very next load.
CONFIG_CACHE_CONTROL = "public, no-cache"

tracking_codes_router = Router(auth=OrganizerTokenAuth(), tags=["organizer tracking codes"])
tracking_config_router = Router(auth=None, tags=["tracking config (public)"])


# --- organizer CRUD ---


def _input(payload: TrackingCodeIn) -> services.CodeInput:
    return services.CodeInput(
        provider=payload.provider.value,
        settings=payload.settings,
        enabled=payload.enabled,
        event_id=payload.event,
    )


@tracking_codes_router.post(
    "",
    response={201: TrackingCodeOut, **error_responses(401, 404, 409)},
    summary="Add a tracking code (for one event, or your default for all events)",
)
def create_tracking_code(request: HttpRequest, payload: TrackingCodeIn):
    return Status(201, services.create_code(request.auth, _input(payload)))


@tracking_codes_router.get(
    "",
    response={200: list[TrackingCodeOut], **error_responses(401)},
    summary="Your tracking codes",
)
@paginate
def list_tracking_codes(
    request: HttpRequest,
    provider: Provider | None = None,
    event: str | None = Query(None, description="An event id, or `default` for defaults."),
    enabled: bool | None = None,
):
    codes = EventTrackingCode.objects.for_organizer(request.auth)
    if provider is not None:
        codes = codes.filter(provider=provider)
    if event == "default":
        codes = codes.filter(event__isnull=True)
    elif event:
        event_id = parse_id(event)
        if event_id is None:
            raise InvalidInput(["query", "event"], "use an event id or `default`.")
        codes = codes.filter(event_id=event_id)
    if enabled is not None:
        codes = codes.filter(enabled=enabled)
    return codes


@tracking_codes_router.get(
    "/{code_id}",
    response={200: TrackingCodeOut, **error_responses(401, 404)},
    summary="One tracking code",
)
def get_tracking_code(request: HttpRequest, code_id: int):
    return get_for_organizer_or_404(EventTrackingCode, request.auth, pk=code_id)


@tracking_codes_router.put(
    "/{code_id}",
    response={200: TrackingCodeOut, **error_responses(401, 404, 409)},
    summary="Replace a tracking code (credentials left out are kept)",
)
def update_tracking_code(request: HttpRequest, code_id: int, payload: TrackingCodeIn):
    code = get_for_organizer_or_404(EventTrackingCode, request.auth, pk=code_id)
    return services.update_code(code, _input(payload))


@tracking_codes_router.patch(
    "/{code_id}",
    response={200: TrackingCodeOut, **error_responses(401, 404, 409)},
    summary="Change some fields of a tracking code (the same checks as a replacement)",
)
def patch_tracking_code(request: HttpRequest, code_id: int, payload: TrackingCodePatch):
    code = get_for_organizer_or_404(EventTrackingCode, request.auth, pk=code_id)
    changes = payload.dict(exclude_unset=True)
    return services.update_code(code, services.patched_input(code, changes))


@tracking_codes_router.delete(
    "/{code_id}",
    response={204: None, **error_responses(401, 404)},
    summary="Delete a tracking code",
)
def delete_tracking_code(request: HttpRequest, code_id: int):
    services.delete_code(get_for_organizer_or_404(EventTrackingCode, request.auth, pk=code_id))
    return Status(204, None)


# --- public tracking config ---


def _config_response(
    request: HttpRequest,
    site_key: str | None,
    page: str,
    build: Callable[[MarketplaceClient], ConfigDocument],
) -> HttpResponse:
    key = site_key_of(request, site_key)
    if not key:
        return JsonResponse(
            {"detail": f"site_key (query) or {SITE_KEY_HEADER} (header) is required"}, status=401
        )
    served = serve(key, page, build)
    if served is None:
        return JsonResponse({"detail": "Not Found"}, status=404)
    client, document = served.client, served.document
    if document is None:
        return apply_cors(JsonResponse({"detail": "Not Found"}, status=404), request, [client])
    if etag_matches(request.headers.get("If-None-Match"), document.etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(document.body, content_type="application/json")
    response["ETag"] = document.etag
    response["Cache-Control"] = CONFIG_CACHE_CONTROL
    return apply_cors(response, request, [client])


def _preflight_clients(
    request: HttpRequest, site_key: str | None, **lookup: str
) -> list[MarketplaceClient]:
    """A preflight carries no custom headers: without a site key in the query, allow the
    origins of any active client that has the requested page."""
    key = site_key_of(request, site_key)
    if key:
        client = client_by_site_key(key)
        return [client] if client else []
    return list(MarketplaceClient.objects.filter(is_active=True, **lookup).distinct())


@tracking_config_router.get(
    "/events/{slug}/tracking-config",
    response={200: EventTrackingConfigOut, 304: None, **error_responses(401, 404)},
    summary="Tracking config of an event page (public; site key)",
    description=(
        "What tracker.js needs for an event page: the organizer's codes (event-specific, "
        "else default) and the marketplace's. Identified by the client's public site key "
        f"(`?site_key=` or `{SITE_KEY_HEADER}`). CORS for the client's origins; ETag / "
        "If-None-Match; revalidated on every load (`Cache-Control: no-cache`)."
    ),
)
def event_tracking_config(request: HttpRequest, slug: str, site_key: str | None = None):
    return _config_response(
        request, site_key, f"event:{slug}", lambda client: event_config(client, slug)
    )


@tracking_config_router.api_operation(
    ["OPTIONS"], "/events/{slug}/tracking-config", include_in_schema=False
)
def event_tracking_config_preflight(request: HttpRequest, slug: str, site_key: str | None = None):
    return preflight(request, _preflight_clients(request, site_key, events__slug=slug))


@tracking_config_router.get(
    "/organizers/{organizer_external_id}/tracking-config",
    response={200: OrganizerTrackingConfigOut, 304: None, **error_responses(401, 404)},
    summary="Tracking config of an organizer's profile page (public; site key)",
    description="The organizer's default codes plus the marketplace's; as the event variant.",
)
def organizer_tracking_config(
    request: HttpRequest, organizer_external_id: str, site_key: str | None = None
):
    return _config_response(
        request,
        site_key,
        f"organizer:{organizer_external_id}",
        lambda client: organizer_config(client, organizer_external_id),
    )


@tracking_config_router.api_operation(
    ["OPTIONS"], "/organizers/{organizer_external_id}/tracking-config", include_in_schema=False
)
def organizer_tracking_config_preflight(
    request: HttpRequest, organizer_external_id: str, site_key: str | None = None
):
    return preflight(
        request,
        _preflight_clients(request, site_key, organizers__external_id=organizer_external_id),
    )


@tracking_config_router.get(
    "/tracking-config",
    response={200: MarketplaceTrackingConfigOut, 304: None, **error_responses(401, 404)},
    summary="Tracking config of the marketplace's other pages (public; site key)",
    description="Home, search and other pages of no event or organizer: the marketplace's codes.",
)
def marketplace_tracking_config(request: HttpRequest, site_key: str | None = None):
    return _config_response(request, site_key, "marketplace", marketplace_config)


@tracking_config_router.api_operation(["OPTIONS"], "/tracking-config", include_in_schema=False)
def marketplace_tracking_config_preflight(request: HttpRequest, site_key: str | None = None):
    return preflight(request, _preflight_clients(request, site_key))


# --- the public documents as plain Django views (see the module's docstring) ---

ConfigView = Callable[..., HttpResponse]
CONFIG_METHODS = ["GET", "OPTIONS"]


def _plain_view(get: ConfigView, options: ConfigView) -> ConfigView:
    """One Django view answering a document's path as its ninja operations would: GET and
    OPTIONS with the path's parameters and the `site_key` query parameter (any text, as
    the operations declare it), 405 for any other method. CSRF-exempt like every ninja
    view, so a POST is told 405 rather than refused for its missing CSRF token."""

    @csrf_exempt
    def view(request: HttpRequest, **path: str) -> HttpResponse:
        site_key = request.GET.get("site_key")
        if request.method == "GET":
            return get(request, site_key=site_key, **path)
        if request.method == "OPTIONS":
            return options(request, site_key=site_key, **path)
        return HttpResponseNotAllowed(CONFIG_METHODS, content=b"Method not allowed")

    return view


# (route under the API's root, view): the router's paths at its mount in `usher.api`.
PLAIN_CONFIG_ROUTES: list[tuple[str, ConfigView]] = [
    (
        "marketplace-client/events/<slug>/tracking-config",
        _plain_view(event_tracking_config, event_tracking_config_preflight),
    ),
    (
        "marketplace-client/organizers/<organizer_external_id>/tracking-config",
        _plain_view(organizer_tracking_config, organizer_tracking_config_preflight),
    ),
    (
        "marketplace-client/tracking-config",
        _plain_view(marketplace_tracking_config, marketplace_tracking_config_preflight),
    ),
]
