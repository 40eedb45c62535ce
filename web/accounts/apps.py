from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "web.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Connects the receiver that answers a locked-out API sign-in (web/security.py) in every
        # process, whether or not a middleware imported the module first.
        from web import security  # noqa: F401
