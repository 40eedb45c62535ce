"""Token authentication for the API: DRF's, with the token lookup as one hand-written query.

The ORM spent 0.7 ms building and running `Token.objects.select_related("user").get(key=...)`,
half of what a cached video list request costs (docs/PERFORMANCE.md, B8); the same JOIN through
`User.objects.raw()` takes 0.35 ms. Header parsing, errors and their messages stay DRF's.

`accepts_api_token` lets a plain Django view (health, the status page, metrics) take the same
token, so a staff monitor needs one credential for all of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
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


def accepts_api_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`Authorization: Token <key>` signs the request in as the token's user for this view, as the
    API would; without that header the session decides. A token that is given but not good gets
    the API's own answer (403 and DRF's sentence) rather than an anonymous view: a monitor holding
    a revoked token should hear so, not quietly see less."""

    # DRF imports this module while rest_framework.views, which web.api.errors needs, is loading.
    from web.api.errors import json_error

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            found = TokenAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            response = json_error(str(exc.detail), 403)
        else:
            if found is not None:
                request.user, request.auth = found
            response = view(request, *args, **kwargs)
        patch_vary_headers(response, ("Authorization",))
        return response

    return wrapper
