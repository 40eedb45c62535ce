"""Content-Security-Policy on every response (Django 5.2 has no built-in one), sign-in
throttling (django-axes, configured here) and per-user upload throttling.

Scripts and styles come only from our own static files; media may come from the storage's
own origin (S3 presigned URLs), so media and images allow any https origin, and connect-src gets
the bucket's origin, which hls.js fetches segments from. Nothing may frame
a page, and forms post only back to us.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache
from axes.signals import user_locked_out
from django.conf import settings
from django.core.files.storage import default_storage
from django.dispatch import receiver
from django.http import HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, UserRateThrottle

from domain.storage import uses_s3

log = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def content_security_policy() -> str:
    """CONTENT_SECURITY_POLICY, with the media bucket's origin added to its connect-src when media
    are on S3: hls.js reads segments with XHR, and the media view redirects each to the bucket."""
    policy = settings.CONTENT_SECURITY_POLICY
    if not policy or not uses_s3():
        return policy
    url = urlsplit(default_storage.url("videos/any"))  # signed locally: no request to the bucket
    return re.sub(r"(connect-src[^;]*)", rf"\1 {url.scheme}://{url.netloc}", policy)


# --- Sign-in throttling ----------------------------------------------------------------------
# django-axes does the counting (settings: AXES_*): its backend, first in AUTHENTICATION_BACKENDS,
# refuses a client that failed too often for one account, and every sign-in (the login page, the
# API token endpoint, the admin) goes through authenticate(). What is ours: which address names the
# client, what a refusal looks like, and failing open when the cache is away.

LOGIN_THROTTLED = (
    "Too many failed sign-in attempts for this account from your network; try again in a few minutes."
)
THROTTLE_SKIPPED = "sign-in throttle skipped: the cache is unavailable"
# What Django's Redis and file caches raise when they cannot be reached.
CACHE_ERRORS = (RedisError, OSError)


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind NUM_PROXIES proxies (production: Heroku's
    router, which appends the address it saw to X-Forwarded-For) the hop the outermost one added.
    Whatever the client wrote into X-Forwarded-For itself comes before that and is never read."""
    return BaseThrottle().get_ident(request)


class SignInThrottle(AxesCacheHandler):
    """axes' cache handler, failing open: while the cache is unreachable, signing in matters more
    than throttling it (the upload throttle does the same)."""

    def __init__(self) -> None:
        pass  # the cache is looked up per call, so a changed CACHES setting is seen

    @property
    def cache(self):
        return get_cache()

    def get_failures(self, request, credentials: dict | None = None) -> int:
        try:
            return super().get_failures(request, credentials)
        except CACHE_ERRORS:
            log.warning(THROTTLE_SKIPPED)
            return 0

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except CACHE_ERRORS:
            log.warning(THROTTLE_SKIPPED)


def _retry_after() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def sign_in_refused(request, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """What the login page and the admin answer a locked-out client (axes' lockout response)."""
    response = render(request, "accounts/locked_out.html", {"message": LOGIN_THROTTLED}, status=429)
    response["Retry-After"] = str(_retry_after())
    return response


@receiver(user_locked_out)
def _refuse_api_sign_in(sender, request=None, **kwargs) -> None:
    """The token endpoint is a DRF view: axes marks DRF's request, which its middleware never sees,
    so the endpoint would answer its usual 400. DRF turns this into a JSON 429 instead."""
    if isinstance(request, Request):
        raise Throttled(wait=_retry_after(), detail=LOGIN_THROTTLED)


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
            log.warning("%s throttle skipped: the cache is unavailable", self.scope)
            return True


class CommentRateThrottle(UploadRateThrottle):
    """New comments per user (the "comments" rate), counted and forgiven like uploads."""

    scope = "comments"
