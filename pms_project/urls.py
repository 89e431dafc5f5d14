from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from briefing import views as briefing_views
from ops import views as ops_views

# Browsers ask every site for /favicon.ico; a 404 would be a console error on every page.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1f3b63"/>'
    '<path d="M3 11l3-4 3 2 4-5" stroke="#fff" stroke-width="1.6" fill="none"/></svg>'
)


@require_safe
def favicon(request):
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
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
    path("", briefing_views.dashboard, name="dashboard"),
    path("healthz", healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
    path("login/", LoginView.as_view(template_name="briefing/login.html"), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/portfolio/", include("portfolio.api.urls")),
    path("api/trades/", include("trades.api.urls")),
    path("api/risk/", include("risk.api.urls")),
    path("api/attribution/", include("attribution.api.urls")),
    path("api/briefing/", include("briefing.api.urls")),
    path("api/ops/", include("ops.api.urls")),
    path("briefing/", include("briefing.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
