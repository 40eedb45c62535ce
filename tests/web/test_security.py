"""The Content-Security-Policy (web.security.content_security_policy)."""

from __future__ import annotations

from tests.domain.test_s3_storage import s3  # noqa: F401 (fixture)
from web.security import content_security_policy


def _connect_src(policy: str) -> str:
    return next(part.strip() for part in policy.split(";") if part.strip().startswith("connect-src"))


def test_without_a_bucket_pages_connect_only_to_us():
    assert _connect_src(content_security_policy()) == "connect-src 'self'"


def test_with_media_on_s3_pages_may_read_from_the_bucket_too(s3, moto_endpoint):  # noqa: F811
    assert _connect_src(content_security_policy()) == f"connect-src 'self' {moto_endpoint}"
