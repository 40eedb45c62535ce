"""Request-id correlation: a context variable that every log line and every task carries."""

from __future__ import annotations

import functools
import inspect
import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar

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
