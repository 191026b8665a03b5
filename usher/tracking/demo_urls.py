"""Routes of the sample marketplace pages (mounted under /demo/)."""

from django.urls import path

from usher.tracking.demo_views import demo_event, demo_organizer

app_name = "tracking_demo"

urlpatterns = [
    path("events/<slug:slug>/", demo_event, name="event"),
    path("organizers/<str:external_id>/", demo_organizer, name="organizer"),
]
