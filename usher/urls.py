from django.contrib import admin
from django.urls import include, path

from usher.api import api
from usher.dashboard.views import home
from usher.tracking.api import PLAIN_CONFIG_ROUTES

API_ROOT = "api/"

urlpatterns = [
    # Fetched on every page load: first, and outside the API's nested include (see
    # usher/tracking/api.py), at the very paths the API documents.
    *(path(API_ROOT + route, view) for route, view in PLAIN_CONFIG_ROUTES),
    path("", home, name="home"),
    path("admin/staff/", include("usher.dashboard.staff.urls")),
    path("admin/", admin.site.urls),
    path(API_ROOT, api.urls),
    path("demo/", include("usher.tracking.demo_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # the panel's language switcher
    path("panel/", include("usher.dashboard.urls")),
    path("", include("usher.ops.urls")),
]
