from __future__ import annotations

from django.urls import path

from telemetry import views

urlpatterns = [
    path("analytics/difficulty/", views.difficulty_report, name="analytics-difficulty"),
    path("analytics/attempts.csv", views.attempts_export, name="analytics-attempts"),
    path("metrics", views.metrics, name="metrics"),
]
