"""The staff dashboards, mounted at /admin/staff/ inside the admin site's login."""

from django.contrib import admin
from django.urls import path

from usher.dashboard.staff import views

app_name = "staff"


def _staff(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _staff(views.overview), name="overview"),
    path("log/", _staff(views.optimization_log), name="log"),
    path("approvals/", _staff(views.approvals), name="approvals"),
    path("deliveries/", _staff(views.delivery_health), name="deliveries"),
    path("campaigns/<int:pk>/override/", _staff(views.override_campaign), name="campaign-override"),
    path("budgets/<int:pk>/override/", _staff(views.override_budget), name="budget-override"),
    path("campaigns/<int:pk>/review/", _staff(views.review_campaign), name="campaign-review"),
]
