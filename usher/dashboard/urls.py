"""The organizer panel's pages, mounted at /panel/."""

from django.urls import path

from . import campaign_views, views

app_name = "dashboard"

urlpatterns = [
    path("", campaign_views.panel_index, name="index"),
    path("campaigns/", campaign_views.campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="campaign"),
    path(
        "campaigns/<int:pk>/<slug:action>/",
        campaign_views.campaign_action,
        name="campaign-action",
    ),
    path("budgets/", campaign_views.budget_list, name="budgets"),
    path("budgets/new/", campaign_views.budget_new, name="budget-new"),
    path("budgets/<int:pk>/", campaign_views.budget_detail, name="budget"),
    path("audiences/", campaign_views.audience_list, name="audiences"),
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
