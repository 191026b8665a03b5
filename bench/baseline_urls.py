"""Usher's URLs plus the baseline the hot-path benchmarks compare against: a trivial
Django JSON view under /api/, so it passes the same middleware (the API's input guard
included) as the endpoints measured. Served only by the benchmarks' gunicorn."""

from django.http import HttpRequest, HttpResponseNotModified, JsonResponse
from django.urls import path

from usher.urls import urlpatterns as usher_urlpatterns


def trivial(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def trivial_not_modified(request: HttpRequest) -> HttpResponseNotModified:
    """The cheapest 304 Django can answer: the baseline of a revalidation."""
    return HttpResponseNotModified()


urlpatterns = [
    path("api/bench/trivial", trivial),
    path("api/bench/trivial-304", trivial_not_modified),
    *usher_urlpatterns,
]
