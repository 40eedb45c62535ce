"""What every log line carries (a request id, the user and video it is about) and what none may
carry (URL query strings: signatures and tokens)."""

from __future__ import annotations

import functools
import inspect
import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar

from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Heroku sends a UUID; accept anything of that flavour, and nothing that could forge log lines.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,200}$")


def clean_request_id(value: str | None) -> str:
    """The caller's id when it is well formed, else a fresh one."""
    if value and _WELL_FORMED.match(value):
        return value
    return str(uuid.uuid4())


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


# --- Who and what a log line is about: user id and video id ---------------------------------
# The request is kept (not its user) so the filter never triggers a session or token lookup of
# its own: it reports the user only once authentication has already resolved it.
request_var: ContextVar[object | None] = ContextVar("log_request", default=None)
video_id_var: ContextVar[str | None] = ContextVar("log_video_id", default=None)


def _user_id() -> int | None:
    from django.utils.functional import empty

    request = request_var.get()
    user = getattr(request, "__dict__", {}).get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if user.is_authenticated else None


@functools.lru_cache(maxsize=64)
def _takes_video_id_first(task_name: str) -> bool:
    from celery import current_app

    task = current_app.tasks.get(task_name)
    params = list(inspect.signature(task.run).parameters) if task else []
    return params[:1] == ["video_id"]


def _task_video_id() -> str | None:
    from celery import current_task

    if not current_task or not current_task.request.id:
        return None
    request = current_task.request
    if (request.kwargs or {}).get("video_id"):
        return str(request.kwargs["video_id"])
    if request.args and _takes_video_id_first(current_task.name):
        return str(request.args[0])
    return None


class LogContextFilter(logging.Filter):
    """Adds user_id and video_id (None when the line is about no user or video)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.user_id = _user_id()
        record.video_id = video_id_var.get() or _task_video_id()
        return True


class LogContextMiddleware:
    """Makes the request (for its user) and the URL's video id visible to LogContextFilter."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_token = request_var.set(request)
        video_token = video_id_var.set(None)
        try:
            return self.get_response(request)
        finally:
            video_id_var.reset(video_token)
            request_var.reset(request_token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if view_kwargs.get("video_id"):
            video_id_var.set(str(view_kwargs["video_id"]))
        return None


# --- Query strings never reach a log line ----------------------------------------------------
# Signed media URLs carry their signature in the query string (?e=..&s=..), and other URLs can
# carry tokens; anyone who reads the logs could replay them. Django's request logger hands the
# whole request to every handler on each 4xx and 5xx (its repr has the full URL), gunicorn logs
# the URI of a request that fails, and exception texts can quote a URL. So one filter, on every
# handler that writes lines (LOGGING's and gunicorn's), rewrites the record before any formatter
# sees it: the message, its arguments, the extras, the traceback. Parameter names stay, values go.
REDACTED = "[redacted]"
# A "?" right after a path or host character, up to whitespace, a quote or a bracket that ends a
# URL in running text or in a repr.
_QUERY = re.compile(r"(?<=[\w/.%~-])\?([^\s'\"<>(){}\\`]+)")
_PLAIN = (bool, int, float, type(None))
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _redact_query(match: re.Match) -> str:
    params = match.group(1).split("&")
    return "?" + "&".join(f"{p.partition('=')[0]}={REDACTED}" if "=" in p else REDACTED for p in params)


def redact_queries(text: str) -> str:
    """`text` with the value of every URL query parameter replaced by [redacted]."""
    return _QUERY.sub(_redact_query, text) if "?" in text else text


def _redacted(value: object) -> object:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, str):
        return redact_queries(value)
    if isinstance(value, Mapping):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    # Anything else is written as its text (a request as "<WSGIRequest: GET '/path?...'>"): when
    # that text holds a query, the redacted text takes the object's place.
    text = str(value)
    safe = redact_queries(text)
    return value if safe == text else safe


class RedactQueryFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            # gunicorn's access lines: formatters read the atoms from args, so they stay a mapping.
            record.args = _redacted(record.args)
            record.msg = _redacted(record.msg)
        elif isinstance(record.msg, Mapping):
            record.msg = _redacted(record.msg)
        else:
            # The message as it will be printed: a query split over several arguments is whole here.
            try:
                message = record.getMessage()
            except Exception:
                # A malformed logging call: logging would print its arguments raw on stderr, and
                # a filter that raised would fail the caller. Keep what it holds, redacted.
                message = f"{record.msg} {record.args}"
            record.msg, record.args = redact_queries(message), None
        for name in vars(record).keys() - _STANDARD_ATTRIBUTES:
            setattr(record, name, _redacted(getattr(record, name)))
        if record.exc_info:
            # Formatters would render the traceback from exc_info; the record keeps only its text.
            record.exc_text = redact_queries(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_queries(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_queries(record.stack_info)
        return True


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, its error and access lines redacted like Django's in every format."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactQueryFilter())


class GunicornJsonFormatter(JsonFormatter):
    """gunicorn's own lines as JSON, like Django's; an access line also gets its fields."""

    # gunicorn passes an access line's atoms as the record's args.
    ACCESS_FIELDS = {
        "{x-request-id}o": "request_id", "m": "method", "U": "path", "s": "status",
        "M": "duration_ms", "B": "bytes", "h": "remote_addr",
    }

    def add_fields(self, log_record, record, message_dict) -> None:
        super().add_fields(log_record, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for atom, name in self.ACCESS_FIELDS.items():
                log_record[name] = record.args.get(atom)
