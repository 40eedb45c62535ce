"""Serving a local file with HTTP Range (single ranges, If-Range), streamed in small blocks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import BinaryIO

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date, parse_http_date_safe

from domain.storage import content_disposition_for, content_type_for
from web.api.errors import json_error
from web.headers import MAX_DIGITS

BLOCK = 64 * 1024
UNSATISFIABLE = (-1, -1)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)
RANGE_NOT_SATISFIABLE = "The requested range is outside the file."

def _position(digits: str) -> int:
    # A number longer than any file size is past every file's end: the same answer as for the
    # largest 63-bit number, without asking int() to convert thousands of digits.
    return int(digits) if len(digits) <= MAX_DIGITS else 2**63


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, UNSATISFIABLE, or None to ignore the header
    (malformed, or several ranges: RFC 9110 lets a server answer those with the whole file)."""
    match = _RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # a suffix: the last N bytes
        suffix = _position(last)
        return (max(size - suffix, 0), size - 1) if suffix and size else UNSATISFIABLE
    start = _position(first)
    if last and _position(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(_position(last), size - 1) if last else size - 1


def _if_range_holds(value: str | None, etag: str, mtime: int) -> bool:
    if value is None:
        return True
    if value.startswith(('"', "W/")):
        return value == etag  # weak validators never match If-Range
    return parse_http_date_safe(value) == mtime


def _blocks(f: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        while length > 0:
            block = f.read(min(BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block


def ranged_file_response(request: HttpRequest, f: BinaryIO, name: str) -> HttpResponse | StreamingHttpResponse:
    """Takes ownership of the open file `f` (closed when the response is)."""
    stat = os.fstat(f.fileno())
    size, mtime = stat.st_size, int(stat.st_mtime)
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    start, end, status = 0, size - 1, 200
    header = request.headers.get("Range")
    wanted = parse_range(header, size) if header and _if_range_holds(request.headers.get("If-Range"), etag, mtime) else None
    if wanted == UNSATISFIABLE:
        f.close()
        response = json_error(RANGE_NOT_SATISFIABLE, 416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is not None:
        (start, end), status = wanted, 206
    length = end - start + 1 if size else 0
    if request.method == "HEAD":
        f.close()
        response = HttpResponse(status=status, content_type=content_type_for(name))
    else:
        response = StreamingHttpResponse(_blocks(f, start, length), status=status, content_type=content_type_for(name))
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = content_disposition_for(name)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(stat.st_mtime)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
