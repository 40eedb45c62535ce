"""URL query strings (media signatures, tokens) never reach a log line, whatever writes it.

tests/faults/test_secrets_in_logs.py drives the real web process in both log formats; these check
the pieces: the redaction itself, and that every handler writing lines has the filter.
"""

from __future__ import annotations

import logging

import pytest
from gunicorn.config import Config

from practika_project.logging import REDACTED, RedactQueryFilter, redact_queries
from tests.conftest import BASE_DIR


def record(msg: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("django.request", logging.WARNING, __file__, 1, msg, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_query_values_go_and_their_names_stay():
    assert redact_queries("GET /media/videos/a/b.mp4?e=17&s=SIG HTTP/1.1") == (
        f"GET /media/videos/a/b.mp4?e={REDACTED}&s={REDACTED} HTTP/1.1"
    )
    assert redact_queries("url: https://hook.example/x?abcdef") == f"url: https://hook.example/x?{REDACTED}"
    assert redact_queries("<WSGIRequest: GET '/x/?token=T'>") == f"<WSGIRequest: GET '/x/?token={REDACTED}'>"
    assert redact_queries("Is Redis up? Not yet.") == "Is Redis up? Not yet."
    once = redact_queries("/x?a=1&b=2")
    assert redact_queries(once) == once


def test_the_filter_redacts_the_message_the_request_extra_and_the_traceback(rf):
    request = rf.get("/media/videos/a/b.mp4?e=17&s=SIGNATURE")
    try:
        raise OSError("cannot fetch /hook?token=TOKEN")
    except OSError as exc:
        entry = record("%s %s", "Not Found:", "/p?s=SIGNATURE", exc_info=(type(exc), exc, exc.__traceback__),
                       request=request, status_code=404)
    assert RedactQueryFilter().filter(entry)
    text = logging.Formatter("%(message)s %(request)s %(status_code)s").format(entry)
    assert "SIGNATURE" not in text and "TOKEN" not in text
    assert "Not Found: /p?s=" in text and "'/media/videos/a/b.mp4?e=" in text and "OSError" in text


def test_gunicorn_access_atoms_stay_a_mapping():
    entry = record("%(r)s %(s)s", {"r": "GET /x?s=SIG HTTP/1.1", "s": "200"})
    RedactQueryFilter().filter(entry)
    assert isinstance(entry.args, dict) and entry.getMessage() == f"GET /x?s={REDACTED} HTTP/1.1 200"


def _line_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), *(log for log in logging.Logger.manager.loggerDict.values()
                                      if isinstance(log, logging.Logger))]
    return [handler for log in loggers for handler in log.handlers
            if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest")]


def test_every_django_handler_that_writes_lines_redacts(settings):
    handlers = _line_handlers()
    assert handlers, "LOGGING configured no handler"
    assert all(any(isinstance(f, RedactQueryFilter) for f in handler.filters) for handler in handlers), handlers


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_every_gunicorn_handler_redacts(log_format, monkeypatch, tmp_path):
    monkeypatch.setenv("LOG_FORMAT", log_format)
    # Set, so reading the config file does not make a metrics folder for this test process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    cfg = Config()
    namespace: dict = {}
    exec(compile((BASE_DIR / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    for name in ("logger_class", "logconfig_dict", "accesslog", "errorlog"):
        if name in namespace:
            cfg.set(name, namespace[name])
    log = cfg.logger_class(cfg)
    handlers = log.error_log.handlers + log.access_log.handlers
    assert handlers and all(any(isinstance(f, RedactQueryFilter) for f in h.filters) for h in handlers)


def test_a_malformed_logging_call_is_redacted_and_does_not_raise():
    entry = record("%s and %s", "/x?token=TOKEN")
    assert RedactQueryFilter().filter(entry)
    assert "TOKEN" not in entry.getMessage() and "/x?token=" in entry.getMessage()
