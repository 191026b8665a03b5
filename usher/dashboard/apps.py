from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "usher.dashboard"
    label = "dashboard"

    def ready(self) -> None:
        from django.contrib import admin

        # The admin's start page links to the staff dashboards (usher/dashboard/staff/).
        admin.site.index_template = "admin/staff/index.html"
