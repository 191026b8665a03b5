"""The organizer panel's pages, mounted at /panel/."""

from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.panel_index, name="index"),
    path("tracking-codes/", views.tracking_code_list, name="tracking-codes"),
    path("tracking-codes/new/", views.tracking_code_form, name="tracking-code-new"),
    path("tracking-codes/<int:pk>/", views.tracking_code_form, name="tracking-code-edit"),
    path(
        "tracking-codes/<int:pk>/delete/",
        views.tracking_code_delete,
        name="tracking-code-delete",
    ),
    path("notifications/", views.notification_list, name="notifications"),
]
