from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "usher.dashboard"
    label = "dashboard"
