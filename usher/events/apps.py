from django.apps import AppConfig


class EventsConfig(AppConfig):
    """What visitors did: the browser event collector and the event store."""

    name = "usher.events"
    label = "events"
