"""URLs of the learner's pages (included at the site root by config/urls.py)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from config.auth import LoginThrottle, SignupThrottle, form_throttled
from interaction import pages

urlpatterns = [
    path("", pages.scenario_list_page, name="scenario-list-page"),
    path("signup/", form_throttled(SignupThrottle)(pages.signup), name="signup"),
    path(
        "login/",
        form_throttled(LoginThrottle)(
            auth_views.LoginView.as_view(redirect_authenticated_user=True, next_page="/")
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("settings/", pages.settings_page, name="settings-page"),
    path("play/<slug:slug>/", pages.play_page, name="play-page"),
    path(
        "sessions/<uuid:session_id>/review/",
        pages.session_review_page,
        name="session-review-page",
    ),
]
