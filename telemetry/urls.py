"""The telemetry app's URLs (config/urls.py includes them at the site root)."""

from __future__ import annotations

from django.urls import path

from telemetry import api, designer, views

urlpatterns = [
    path("analytics/", views.report, name="analytics-report"),
    path("analytics/difficulty/", views.difficulty_redirect, name="analytics-difficulty"),
    path("analytics/attempts.csv", views.attempts_export, name="analytics-attempts"),
    path("analytics/scenarios/<slug:slug>/", views.scenario_report, name="analytics-scenario"),
    path(
        "analytics/turns/<int:turn_id>/answers/",
        designer.turn_answer_add_view,
        name="analytics-answer-add",
    ),
    path("designer/turns/<int:turn_id>/try/", designer.turn_try, name="turn-try"),
    path(
        "analytics/scenarios/<slug:slug>/sessions/",
        views.scenario_sessions,
        name="analytics-sessions",
    ),
    path("analytics/sessions/<uuid:session_id>/", views.session_review, name="analytics-session"),
    path(
        "disputes/attempts/<int:attempt_id>/",
        views.dispute_create_page,
        name="dispute-create-page",
    ),
    path("metrics", views.metrics, name="metrics"),
    path(
        "api/analytics/scenarios/",
        api.ScenarioAnalyticsApi.as_view(),
        name="api-analytics-scenarios",
    ),
    path("api/analytics/turns/", api.TurnAnalyticsApi.as_view(), name="api-analytics-turns"),
    path("api/analytics/flagged-turns/", api.FlaggedTurnsApi.as_view(), name="api-analytics-flags"),
    path(
        "api/analytics/frequent-answers/",
        api.FrequentAnswersApi.as_view(),
        name="api-analytics-answers",
    ),
    path(
        "api/analytics/sessions/<uuid:session_id>/",
        api.SessionReviewApi.as_view(),
        name="api-analytics-session",
    ),
    path(
        "api/attempts/<int:attempt_id>/disputes/",
        api.DisputeCreateApi.as_view(),
        name="api-dispute-create",
    ),
]
