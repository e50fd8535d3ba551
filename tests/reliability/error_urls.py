"""Parley's URLs plus views that fail on purpose (tests/reliability/test_http_errors.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as parley_urlpatterns


class BrokenApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("boom: the database password is hunter2")


def broken_page(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom: the database password is hunter2")


urlpatterns = [
    path("api/broken/", BrokenApi.as_view()),
    path("broken/", broken_page),
    *parley_urlpatterns,
]
