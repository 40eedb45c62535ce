"""What the domain refuses, as a code and a sentence for the user.

The domain says what went wrong; only the HTTP layer (web/api/errors.py) decides which status
that is, and a command or a worker can tell the user without knowing HTTP at all.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    INVALID = "invalid"  # the request itself is wrong: empty, unnamed, a bad choice, too long
    TOO_LARGE = "too_large"  # over the server's size limit for a file or a chunk
    QUOTA_EXCEEDED = "quota_exceeded"  # past the owner's storage quota
    STORAGE_FULL = "storage_full"  # the media volume has no room
    TOO_MANY = "too_many"  # a per-user limit on things in progress
    FORBIDDEN = "forbidden"  # the caller sees it but may not do this (a member asking what only coaches may)
    NOT_FOUND = "not_found"
    EXPIRED = "expired"  # it existed, and is gone for good
    CONFLICT = "conflict"  # the request does not match the current state (an offset, a finished upload)
    BUSY = "busy"  # another request holds it; retry in a moment
    CHECKSUM_MISMATCH = "checksum_mismatch"  # the bytes are not what their checksum says


class DomainError(Exception):
    """A refusal the user can act on; str(exc) is the sentence for them."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
