"""The organizer panel: an organizer user's own tracking codes.

Views stay thin: rows come from the organizer's scope (another organizer's code id is a
404, never a 403 with details) and every write goes through `usher.tracking.services`,
so the panel validates exactly like the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from usher.conversions.services import status_for_codes
from usher.lib.errors import Conflict, InvalidInput
from usher.lib.tenancy import get_for_organizer_or_404
from usher.lib.validation import parse_id
from usher.marketplace.models import MarketplaceEvent
from usher.notifications import services as notifications
from usher.notifications.models import Notification
from usher.tracking import services
from usher.tracking.models import EventTrackingCode
from usher.tracking.providers import SPECS
from usher.tracking.resolved import Provider

from .forms import TrackingCodeForm

View = Callable[..., HttpResponse]


def organizer_required(view: View) -> View:
    """Logged in as an organizer user; request.organizer is the only organizer it sees."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organizer = getattr(request.user, "organizer", None)
        if organizer is None:
            return render(request, "dashboard/not_an_organizer.html", status=403)
        if not organizer.is_active:
            # The same rule as the API tokens: a suspended organizer cannot change its codes.
            return render(request, "dashboard/not_an_organizer.html", status=403)
        request.organizer = organizer
        return view(request, *args, **kwargs)

    return wrapper


@organizer_required
def tracking_code_list(request: HttpRequest) -> HttpResponse:
    organizer = request.organizer
    codes = EventTrackingCode.objects.for_organizer(organizer).select_related("event")
    provider = request.GET.get("provider", "")
    if provider in Provider.values:
        codes = codes.filter(provider=provider)
    event = request.GET.get("event", "")
    if event == "default":
        codes = codes.filter(event__isnull=True)
    elif (event_id := parse_id(event)) is not None:
        codes = codes.filter(event_id=event_id)
    codes = list(codes)
    statuses = status_for_codes(code.pk for code in codes)
    for code in codes:
        code.delivery = statuses.get(code.pk)
    return render(
        request,
        "dashboard/tracking_code_list.html",
        {
            "organizer": organizer,
            "codes": codes,
            "providers": Provider.choices,
            "events": MarketplaceEvent.objects.for_organizer(organizer).only("id", "name"),
            "selected_provider": provider,
            "selected_event": event,
        },
    )


@organizer_required
@require_http_methods(["GET", "POST"])
def tracking_code_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    organizer = request.organizer
    code = get_for_organizer_or_404(EventTrackingCode, organizer, pk=pk) if pk else None
    form = TrackingCodeForm(request.POST or None, organizer=organizer, instance=code)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.to_code_input()
            if code is None:
                services.create_code(organizer, data)
            else:
                services.update_code(code, data)
        except InvalidInput as exc:
            form.add_service_error(exc)
        except Conflict as exc:
            form.add_error(None, f"{exc.message} Edit code #{exc.existing_id} instead.")
        except Http404:
            form.add_error("event", "Choose one of your events.")
        else:
            messages.success(request, "Tracking code saved.")
            return redirect("dashboard:tracking-codes")
    selected = form["provider"].value() or Provider.META
    return render(
        request,
        "dashboard/tracking_code_form.html",
        {
            "organizer": organizer,
            "form": form,
            "code": code,
            "specs": SPECS.values(),
            "selected_provider": selected,
        },
    )


@organizer_required
@require_http_methods(["GET", "POST"])
def tracking_code_delete(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_for_organizer_or_404(EventTrackingCode, request.organizer, pk=pk)
    if request.method == "POST":
        services.delete_code(code)
        messages.success(request, "Tracking code deleted.")
        return redirect("dashboard:tracking-codes")
    return render(
        request,
        "dashboard/tracking_code_confirm_delete.html",
        {"organizer": request.organizer, "code": code},
    )


# The panel lists this many notices, newest first; older ones stay in the admin.
NOTIFICATIONS_SHOWN = 100


@organizer_required
@require_http_methods(["GET", "POST"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """The organizer's notices; POST marks the listed ones read."""
    organizer = request.organizer
    if request.method == "POST":
        ids = [parsed for raw in request.POST.getlist("id") if (parsed := parse_id(raw))]
        marked = notifications.mark_read(organizer, ids)
        messages.success(request, f"{marked} notice(s) marked as read.")
        return redirect("dashboard:notifications")
    rows = Notification.objects.for_organizer(organizer)[:NOTIFICATIONS_SHOWN]
    return render(
        request,
        "dashboard/notification_list.html",
        {"organizer": organizer, "notifications": rows},
    )


# The start page links this many demo event pages.
DEMO_EVENTS_LINKED = 4


def home(request: HttpRequest) -> HttpResponse:
    """Where `/` (and the admin's "View site") lands: the ways into Usher, and in the
    demo the sample marketplace pages."""
    demo_events = demo_organizers = ()
    if settings.USHER_DEMO_PAGES:
        demo_events = MarketplaceEvent.objects.select_related("organizer").order_by(
            "starts_at", "pk"
        )[:DEMO_EVENTS_LINKED]
        demo_organizers = {event.organizer for event in demo_events}
    return render(
        request,
        "dashboard/home.html",
        {"demo_events": demo_events, "demo_organizers": sorted(demo_organizers, key=str)},
    )
