"""The collector's lean middleware chain: what it still does, what it skips, and that
every other route keeps the full chain (session, CSRF, authentication)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.template import engines
from django.template.response import TemplateResponse
from django.test import Client
from django.urls import path

from usher.events.models import TrackingEvent
from usher.lib.lean_chain import LeanPathsMiddleware
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory

pytestmark = pytest.mark.django_db
COLLECT = "/api/collect"


@pytest.fixture
def page(marketplace):
    return EventFactory(organizer=OrganizerFactory(client=marketplace), slug="lean-fest")


def collect(client: Client, site_key: str, body: object, **headers: str):
    return client.post(
        f"{COLLECT}?site_key={site_key}",
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def page_view(event_id: str = "evt-lean-0001") -> dict:
    return {"events": [{"event_id": event_id, "name": "page_view", "event": "lean-fest"}]}


def vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def test_the_collector_keeps_its_cors_request_id_and_security_headers(marketplace, page):
    origin = marketplace.allowed_origins[0]
    response = collect(Client(), marketplace.site_key, page_view(), Origin=origin)
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == origin
    assert {"origin", "x-usher-site-key"} <= vary(response)
    assert response["X-Request-ID"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_the_collector_runs_no_session_locale_or_auth_work_and_sets_no_cookie(marketplace, page):
    browser = Client()
    browser.force_login(get_user_model().objects.create_user("staff", is_staff=True))
    response = collect(browser, marketplace.site_key, page_view(), **{"Accept-Language": "ro"})
    assert response.status_code == 202
    assert not response.cookies  # no session (nor CSRF, language) cookie set or renewed
    assert not {"cookie", "accept-language"} & vary(response)
    assert "Content-Language" not in response  # the locale middleware did not run
    assert response.wsgi_request.resolver_match.url_name == "collect"
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


def test_the_api_input_guard_still_refuses_what_the_collector_cannot_parse(marketplace, page):
    nested = '{"events": ' + "[" * 40 + "]" * 40 + "}"
    response = collect(Client(), marketplace.site_key, nested)
    assert response.status_code == 400  # not the parser's RecursionError as a 500
    assert "nested deeper" in response.json()["detail"]
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize("path", [f"{COLLECT}/", f"{COLLECT}x", f"/x{COLLECT}"])
def test_a_path_that_only_resembles_the_collectors_takes_the_full_chain(client, path):
    response = client.post(path, data="{}", content_type="application/json")
    assert "accept-language" in vary(response)  # the locale middleware ran


def test_private_routes_still_check_csrf():
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.create_user("editor"))
    refused = browser.post("/i18n/setlang/", {"language": "ro"})
    assert refused.status_code == 403


def test_a_middleware_that_hooks_around_views_cannot_join_the_lean_chain(settings):
    settings.LEAN_MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="view hooks"):
        LeanPathsMiddleware(lambda request: None)


def _raises_not_found(request):
    raise Http404("no such thing")


def _template_answer(request):
    return TemplateResponse(
        request, engines["django"].from_string("lean {{ word }}"), {"word": "ok"}
    )


urlpatterns = [
    path("lean-missing", _raises_not_found),
    path("lean-template", _template_answer),
]


@pytest.mark.urls(__name__)
def test_a_lean_path_answers_a_views_404_and_renders_a_template_response(settings):
    """Django's own handling behind the lean chain: a view's `Http404` is a 404 (not a
    500 from the chain's own failure) and a `TemplateResponse` is rendered."""
    settings.LEAN_PATHS = ["/lean-missing", "/lean-template"]
    client = Client(raise_request_exception=False)
    assert client.get("/lean-missing").status_code == 404
    rendered = client.get("/lean-template")
    assert (rendered.status_code, rendered.content) == (200, b"lean ok")
