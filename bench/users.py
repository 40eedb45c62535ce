"""The bench's user, created in its database through the ORM."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

USERNAME = "bench"


def bench_user():
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    return user


def bench_token() -> str:
    token, _ = Token.objects.get_or_create(user=bench_user())
    return token.key
