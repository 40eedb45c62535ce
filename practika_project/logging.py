"""Request-id correlation: a context variable that every log line and every task carries."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

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
