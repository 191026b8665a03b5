from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What Usher tells organizers and staff: in the panel, in the admin and by email,
    once per cause."""

    name = "usher.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"
