"""Error pages: JSON under /core/ (API and health), HTML everywhere else.

An error page must render whatever else is broken. Its templates take their assets by plain name,
never through the static manifest (pages/error_base.html); and when a page still cannot be
rendered (the database down under a signed-in user's menu, a template gone wrong), a plain page
that depends on nothing is sent. Otherwise the error page's own exception would be re-raised by
every middleware layer, and the visitor would get the server's bare 500 instead.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import render

from web.api.errors import BODY_TOO_LARGE, json_error

log = logging.getLogger(__name__)

BAD_REQUEST = "The request could not be understood."
FORBIDDEN = "You do not have permission to do that."
CSRF_FAILED = "The request came without a valid CSRF token; reload the page and try again."
NOT_FOUND = "Not found."
SERVER_ERROR = "Something went wrong on our side; it has been logged."

TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 500: "Something went wrong"}
PLAIN_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · Practika</title></head>'
    '<body><main><h1>{title}</h1><p><a href="/">Back to the library</a></p></main></body></html>'
)


def _error_page(request, *, template: str, status: int, sentence: str, context: dict | None = None) -> HttpResponse:
    if request.path.startswith("/core/"):
        return json_error(sentence, status)
    try:
        return render(request, template, context, status=status)
    except Exception:
        # The last line of defence, so it catches everything: the failure is logged, and the
        # visitor still gets the status and a way back.
        log.exception("The %s page could not be rendered; a plain one was sent instead", status)
        return HttpResponse(PLAIN_PAGE.format(title=TITLES[status]), status=status)


def bad_request(request, exception=None):
    # Django answers a body past DATA_UPLOAD_MAX_MEMORY_SIZE here, as a suspicious request; to an
    # API client it is simply too large.
    if isinstance(exception, RequestDataTooBig) and request.path.startswith("/core/"):
        return json_error(BODY_TOO_LARGE, 413)
    return _error_page(request, template="400.html", status=400, sentence=BAD_REQUEST)


def permission_denied(request, exception=None):
    context = {"exception": str(exception or "")}
    return _error_page(request, template="403.html", status=403, sentence=FORBIDDEN, context=context)


def csrf_failure(request, reason: str = ""):
    return _error_page(request, template="403_csrf.html", status=403, sentence=CSRF_FAILED)


def not_found(request, exception=None):
    return _error_page(request, template="404.html", status=404, sentence=NOT_FOUND)


def server_error(request):
    return _error_page(request, template="500.html", status=500, sentence=SERVER_ERROR)
