"""The bench's user, created in its database through the ORM."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

USERNAME = "bench"
# Another user, whose uploads transcode while the bench user's pages are measured.
UPLOADER = "bench-uploader"


def bench_user(username: str = USERNAME):
    user, _ = get_user_model().objects.get_or_create(username=username)
    return user


def bench_user_reset() -> None:
    """No videos or uploads left from an earlier benchmark: they would count against the user's
    storage quota (MAX_USER_STORAGE_BYTES), and their files are gone with the run's media."""
    from domain.uploads.models import Upload
    from domain.videos.models import Video

    users = [bench_user(name) for name in (USERNAME, UPLOADER)]
    Upload.objects.filter(owner__in=users).delete()
    Video.objects.filter(owner__in=users).delete()


def bench_token(username: str = USERNAME) -> str:
    token, _ = Token.objects.get_or_create(user=bench_user(username))
    return token.key
