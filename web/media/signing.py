"""Media URLs: /media/<name>, signed with an expiry unless the file is public."""

from __future__ import annotations

import time
from urllib.parse import quote

from django.conf import settings
from django.core.signing import Signer
from django.utils.crypto import constant_time_compare

from web.headers import whole_number

_SALT = "practika.media"


def _signature(name: str, expires: int) -> str:
    return Signer(salt=_SALT).signature(f"{name}\n{expires}")


def media_url(name: str, *, signed: bool) -> str:
    """Root-relative URL of a stored file. Signed URLs expire after MEDIA_URL_MAX_AGE seconds and
    work without headers (a <video src>); unsigned ones only serve public videos' files."""
    url = settings.MEDIA_URL + quote(name)
    if not signed:
        return url
    expires = int(time.time()) + settings.MEDIA_URL_MAX_AGE
    return f"{url}?e={expires}&s={_signature(name, expires)}"


def media_signature_valid(name: str, expires: str, signature: str) -> bool:
    """True for an untampered signature whose expiry has not passed."""
    expiry = whole_number(expires)
    if expiry is None or expiry < time.time():
        return False
    return constant_time_compare(signature, _signature(name, expiry))
