"""Content-Security-Policy on every response (Django 5.2 has no built-in one).

Scripts and styles come only from our own static files; media may come from the storage's
own origin (S3 presigned URLs), so media and images allow any https origin. Nothing may frame
a page, and forms post only back to us.
"""

from __future__ import annotations

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
