from django.contrib import admin
from django.urls import include, path

from usher.api import api
from usher.dashboard.views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/staff/", include("usher.dashboard.staff.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("demo/", include("usher.tracking.demo_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # the panel's language switcher
    path("panel/", include("usher.dashboard.urls")),
    path("", include("usher.ops.urls")),
]
