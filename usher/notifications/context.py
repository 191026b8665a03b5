"""The unread count beside the panel's Notifications link (organizer users only)."""

from __future__ import annotations

from django.http import HttpRequest

from usher.notifications.models import Notification


def unread_notifications(request: HttpRequest) -> dict[str, int]:
    user = getattr(request, "user", None)
    organizer_id = getattr(user, "organizer_id", None) if user and user.is_authenticated else None
    if organizer_id is None:
        return {}
    count = Notification.objects.filter(organizer_id=organizer_id, read_at__isnull=True).count()
    return {"unread_notifications": count}
