"""Video list pages, cached per caller and page until a video they show changes.

A page of the list costs four queries and several milliseconds of Python, clients poll it while
their uploads process, and everybody's public library is the same page. A cached page is the
response body itself, kept with the change tokens its caller's list depends on, read before its
queries were made (domain/videos/changes.py: the public videos' token and the caller's own):
once either has moved on, the page is built again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from domain.videos import changes

log = logging.getLogger(__name__)

# Bounds how stale a page can be only when a change could not reach the cache (it was down).
MAX_AGE = 30


# The query parameters a list page depends on. A URL with any other, or with a value not written
# the one plain way ("01" for "1"), is built and not kept: made-up URLs cannot fill Redis, which
# is also the broker, with copies of one page.
PARAMETERS = ("page", "page_size")


def _plain_number(values: list[str]) -> bool:
    # isascii(): "²" is a digit to str.isdigit(), but not a number to int().
    value = values[0] if len(values) == 1 else ""
    return value.isascii() and value.isdigit() and len(value) <= 6 and value == str(int(value))


def _key(request, page_size: int) -> str | None:
    query = request.GET
    if not all(name in PARAMETERS and _plain_number(query.getlist(name)) for name in query):
        return None
    # The key names the page size the paginator really uses, not the one asked for: every size
    # past its maximum is one page (and "0" or none is the default), so it is one key too.
    page = query.get("page", "")
    # The links to the next and previous pages are absolute: the scheme and host count too.
    origin = hashlib.sha256(f"{request.scheme}://{request.get_host()}".encode()).hexdigest()[:16]
    return f"videos:list:{request.user.pk or 0}:{origin}:{page}:{page_size}"


def cached_body(request, build: Callable[[], bytes], *, page_size: int) -> bytes:
    """The caller's page of `page_size` videos: from the cache while no video has changed since it
    was built, else from build(), then kept. With the cache down, every page is built."""
    key = _key(request, page_size)
    if key is None:
        return build()
    tokens = changes.list_tokens(request.user)
    try:
        found = cache.get_many([*tokens, key])
    except Exception:
        log.warning("video list built uncached: the cache is unavailable")
        return build()
    current, kept = [found.get(token) for token in tokens], found.get(key)
    missing = [token for token, value in zip(tokens, current) if value is None]
    if not missing and kept is not None and kept[0] == current:
        return kept[1]
    body = build()
    # Signed media URLs in the page must stay valid well after it leaves the cache.
    timeout = min(MAX_AGE, settings.MEDIA_URL_MAX_AGE // 2)
    try:
        if missing:
            changes.start_tokens(missing)  # this page is not kept: it was built under no token
        else:
            cache.set(key, (current, body), timeout=timeout)
    except Exception:
        log.warning("video list not cached: the cache is unavailable")
    return body
