"""Whole numbers from headers and query strings, checked before Python's int() sees them.

int() refuses a string of more than 4,300 digits with a ValueError (Python's guard against
quadratic-time conversion), which would be a 500. No size, offset or time is that long: 19
digits hold every 63-bit number, as large as a PostgreSQL bigint or a file can be.
"""

from __future__ import annotations

MAX_DIGITS = 19

BAD_CONTENT_LENGTH = "Content-Length must be a whole number of bytes."


def whole_number(value: str | None) -> int | None:
    """The value as an int when it is 1 to MAX_DIGITS ASCII digits, else None."""
    if value is None or not (0 < len(value) <= MAX_DIGITS and value.isascii() and value.isdigit()):
        return None
    return int(value)
