from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.auth import TokenLoginApi
from interaction.api import (
    AttemptCreateApi,
    MeApi,
    RegisterApi,
    SessionDetailApi,
    SessionListCreateApi,
)
from scenarios.api import ScenarioDetailApi, ScenarioListApi

api_patterns = [
    path("api/auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("api/auth/token/", TokenLoginApi.as_view(), name="auth-token"),
    path("api/me/", MeApi.as_view(), name="me"),
    path("api/scenarios/", ScenarioListApi.as_view(), name="scenario-list"),
    path("api/scenarios/<slug:slug>/", ScenarioDetailApi.as_view(), name="scenario-detail"),
    path("api/sessions/", SessionListCreateApi.as_view(), name="session-list"),
    path("api/sessions/<uuid:session_id>/", SessionDetailApi.as_view(), name="session-detail"),
    path(
        "api/sessions/<uuid:session_id>/attempts/",
        AttemptCreateApi.as_view(),
        name="attempt-create",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    *api_patterns,
    path("", include("telemetry.urls")),
    path("", include("interaction.page_urls")),
]
