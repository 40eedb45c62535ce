"""Token authentication for the API: DRF's, with the token lookup as one hand-written query.

The ORM spent 0.7 ms building and running `Token.objects.select_related("user").get(key=...)`,
half of what a cached video list request costs (docs/PERFORMANCE.md, B8); the same JOIN through
`User.objects.raw()` takes 0.35 ms. Header parsing, errors and their messages stay DRF's.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


def _user_by_token_sql() -> str:
    user, token, q = get_user_model()._meta, Token._meta, connection.ops.quote_name
    return (
        f"SELECT u.* FROM {q(user.db_table)} u JOIN {q(token.db_table)} t ON t.{q('user_id')} = u.{q(user.pk.column)} "
        f"WHERE t.{q('key')} = %s"
    )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str):
        user = next(iter(get_user_model().objects.raw(_user_by_token_sql(), [key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # request.auth is the token, as DRF's own class gives it (its `created` is not read).
        return user, Token(key=key, user=user)
