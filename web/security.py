"""Content-Security-Policy on every response (Django 5.2 has no built-in one), sign-in
throttling and per-user upload throttling.

Scripts and styles come only from our own static files; media may come from the storage's
own origin (S3 presigned URLs), so media and images allow any https origin. Nothing may frame
a page, and forms post only back to us.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from rest_framework.throttling import UserRateThrottle

log = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


# --- Sign-in throttling -----------------------------------------------------------------------
# Every sign-in (the login page, the API token endpoint, the admin) goes through authenticate(),
# so a backend first in AUTHENTICATION_BACKENDS refuses an account after LOGIN_MAX_FAILURES
# failures within LOGIN_FAILURE_WINDOW seconds, whatever the password. It is keyed by account,
# not address: behind Heroku's router every request comes from the router.


def _failures_key(username: str) -> str:
    from django.contrib.auth import get_user_model

    pk = get_user_model()._default_manager.filter(username=username).values_list("pk", flat=True).first()
    return f"login-failures:{pk if pk is not None else 'name:' + username[:150]}"


def _failures(username: str) -> int:
    from django.core.cache import cache

    try:
        return int(cache.get(_failures_key(username)) or 0)
    except Exception:  # the cache is down: signing in matters more than throttling
        return 0


class LoginThrottleBackend:
    """Refuses (PermissionDenied stops authenticate()) while the account is throttled."""

    def authenticate(self, request, username=None, **kwargs):
        if username and _failures(username) >= settings.LOGIN_MAX_FAILURES:
            raise PermissionDenied(LOGIN_THROTTLED)
        return None
    # No get_user(): sessions are never this backend's, and the test client's force_login()
    # picks the first backend that has one.


LOGIN_THROTTLED = "Too many failed sign-in attempts for this account; try again in a few minutes."


@receiver(user_login_failed)
def _count_login_failure(sender, credentials: dict, request=None, **kwargs) -> None:
    from django.core.cache import cache

    username = credentials.get("username")
    if not username:
        return
    key = _failures_key(username)
    try:
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
        cache.incr(key)
    except Exception:
        pass  # the cache is down: no throttling rather than no sign-in


# --- Upload throttling ------------------------------------------------------------------------


class UploadRateThrottle(UserRateThrottle):
    """Uploads per user (REST_FRAMEWORK's "uploads" rate); reading the list is never throttled."""

    scope = "uploads"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache is down: an upload matters more than its rate limit
            log.warning("upload throttle skipped: the cache is unavailable")
            return True
