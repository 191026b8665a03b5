from django.contrib import admin

from usher.lib.admin import ReadOnlyScopedAdmin
from usher.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyScopedAdmin):
    """Every notice sent, to organizers and to staff (organizer empty)."""

    list_display = ("title", "kind", "organizer", "created_at", "read_at", "emailed_at")
    list_filter = ("kind", ("organizer", admin.EmptyFieldListFilter))
    search_fields = ("title", "body", "cause_key")
    date_hierarchy = "created_at"
