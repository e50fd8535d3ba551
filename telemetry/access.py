"""Who may read analytics: staff, and members of the Django group `analysts`.

Analysts are ordinary site users (they log in at /login/, not the admin) and can read
every figure, export and session review; they cannot edit anything.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from hashlib import sha256
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.permissions import BasePermission

ANALYSTS_GROUP = "analysts"


def analysts_group_get() -> Group:
    """The `analysts` group, created on first use (the data migration creates it too)."""
    group, _ = Group.objects.get_or_create(name=ANALYSTS_GROUP)
    return group


def is_analyst(user: Any) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.groups.filter(name=ANALYSTS_GROUP).exists())


def analyst_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous: to the site's login page. Logged in but no analyst: 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_analyst(request.user):
            raise PermissionDenied("Analytics are for staff and the analysts group.")
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(
    view: Callable[..., HttpResponseBase], *, permission: str | None = None
) -> Callable[..., HttpResponseBase]:
    """Staff only (with `permission` too, if given). Anonymous: to the site's login page;
    anyone else (learners, analysts): 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        user = request.user
        if not (user.is_active and user.is_staff) or (permission and not user.has_perm(permission)):
            raise PermissionDenied("This is for the scenarios' designers (staff).")
        return view(request, *args, **kwargs)

    return wrapped


class IsAnalyst(BasePermission):
    message = "Analytics are for staff and the analysts group."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_analyst(request.user)


def pseudonym_key() -> bytes:
    """ANALYTICS_PSEUDONYM_KEY, or one derived from SECRET_KEY (read when used: production
    settings set the key after the base settings)."""
    if settings.ANALYTICS_PSEUDONYM_KEY:
        return settings.ANALYTICS_PSEUDONYM_KEY.encode()
    return sha256(f"parley.analytics.pseudonym:{settings.SECRET_KEY}".encode()).digest()


def learner_pseudonym(user_id: int) -> str:
    """A learner's stable pseudonym in exports: HMAC-SHA256 of the id under
    settings.ANALYTICS_PSEUDONYM_KEY (by default a key derived from SECRET_KEY), 16 hex digits.
    The same learner always gets the same pseudonym; without the key it cannot be turned back
    into the id."""
    key = pseudonym_key()
    return "L-" + hmac.new(key, str(user_id).encode(), sha256).hexdigest()[:16]
