"""What a request's body may do to its connection: stall a thread forever, or leave bytes behind.

A WSGI middleware around Django, put there by gunicorn.conf.py (post_worker_init), for every
request that has a body:

- **Stalls.** gunicorn reads a body from a blocking socket with no timeout, and its gthread
  worker never times a thread out: a client that sends half a body and then nothing holds the
  thread (and, for a tus PATCH, a transaction and a row lock) for as long as it keeps the
  connection open. While the application reads the body, the socket gets REQUEST_BODY_TIMEOUT:
  a read that waits longer ends the body there, as if the client had gone away (what arrived is
  kept, the lock released, the connection closed after the answer). The timeout is lifted
  before the answer is written, so a slow reader of a long response is never cut off.
- **Early answers.** An answer decided from the headers (401, 403, 413, 429, 400, 409...) leaves
  the body on the connection. gunicorn then drains at most 64 KiB of it, else closes the
  connection, but it has already told the client "Connection: keep-alive", and the client's next
  request on that connection fails ("Remote end closed connection without response"). The
  answer to a request whose body was not read to its end must say "Connection: close". gunicorn
  drops hop-by-hop headers an application sends (gunicorn/http/wsgi.py,
  Response.process_headers), so the application cannot say it itself: gunicorn.conf.py's
  pre_request hook hangs the request's own force_close on its body (CLOSE_CONNECTION), and the
  middleware calls it; gunicorn then sends "Connection: close" and closes once the answer is out.

Under another server (Django's test server) there is no socket to time and nothing to call.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

from django.conf import settings

from web.headers import whole_number

# The attribute of environ["wsgi.input"] that closes the request's connection after its answer.
CLOSE_CONNECTION = "practika_close_connection"


class _BodyInput:
    """environ["wsgi.input"], counting what the application read of it, and ending the body
    where it stalled."""

    def __init__(self, stream, sock: socket.socket | None) -> None:
        self._stream = stream
        self._sock = sock
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        return self._counted(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._counted(self._stream.readline, size)

    def _counted(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            data = read(size)
        except TimeoutError:
            if self._sock is None:  # not gunicorn's socket timeout: nothing of ours to end
                raise
            # A read that timed out keeps the bytes it had gathered in gunicorn's buffer. Ending
            # the connection's input makes the same read return them, as when a client goes
            # away mid-body; every read after that finds the body's end.
            self._sock.shutdown(socket.SHUT_RD)
            data = read(size)
        self.consumed += len(data)
        return data


class RequestBodyMiddleware:
    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        # A length that is no number counts as unknown: the body is left unread, so it closes.
        length = whole_number(environ.get("CONTENT_LENGTH") or "0")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length == 0 and not chunked:
            return self.app(environ, start_response)
        source = environ["wsgi.input"]
        sock = environ.get("gunicorn.socket")
        body = environ["wsgi.input"] = _BodyInput(source, sock)
        untimed = sock.gettimeout() if sock is not None else None
        if sock is not None:
            sock.settimeout(settings.REQUEST_BODY_TIMEOUT)

        def start(status: str, headers: list, exc_info=None) -> Callable:
            if sock is not None:
                sock.settimeout(untimed)
            # Django never reads a chunked body (it has no Content-Length), nor past one.
            if chunked or length is None or body.consumed < length:
                close = getattr(source, CLOSE_CONNECTION, None)
                if close is not None:
                    close()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
