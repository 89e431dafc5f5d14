from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request):
    """The process is alive (no dependency checked)."""
    return JsonResponse({"status": "ok"})


# Every answer under /api/ is JSON, even when no view ran (see pms_project/errors.py).
handler400 = "pms_project.errors.json_bad_request"
handler403 = "pms_project.errors.json_permission_denied"
handler404 = "pms_project.errors.json_page_not_found"
handler500 = "pms_project.errors.json_server_error"

admin.site.site_header = "PMS — macro desk administration"
admin.site.site_title = "PMS admin"
admin.site.index_title = "The desk's data, approvals and limits"
admin.site.enable_nav_sidebar = False  # the approvers' list needs the width

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/portfolio/", include("portfolio.api.urls")),
    path("api/trades/", include("trades.api.urls")),
    path("api/risk/", include("risk.api.urls")),
    path("api/attribution/", include("attribution.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
