"""The bench's user, created in its database through the ORM."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

USERNAME = "bench"


def bench_user():
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    return user


def bench_user_reset() -> None:
    """No videos or uploads left from an earlier benchmark: they would count against the user's
    storage quota (MAX_USER_STORAGE_BYTES), and their files are gone with the run's media."""
    from domain.uploads.models import Upload
    from domain.videos.models import Video

    user = bench_user()
    Upload.objects.filter(owner=user).delete()
    Video.objects.filter(owner=user).delete()


def bench_token() -> str:
    token, _ = Token.objects.get_or_create(user=bench_user())
    return token.key
