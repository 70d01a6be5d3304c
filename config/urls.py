from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.static import serve

from auctions.urls import urlpatterns as catalogue_pages
from bidding.urls import urlpatterns as bidder_pages
from config.health import healthz, readyz
from config.metrics import metrics_view

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says; the icon is the page's own.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/", include("config.api_urls")),
    path("", include((catalogue_pages + bidder_pages, "auctions"))),
]


def media(request, path: str):
    """An uploaded photo, from MEDIA_ROOT as it is set now (tests move it)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.SERVE_MEDIA:  # a laptop and the tests; in production nginx serves /media/ (docs/operations.md)
    urlpatterns.insert(0, re_path(r"^media/(?P<path>.+)$", media, name="media"))
