"""A token in the cache that moves on whenever anything a video list shows may have changed.

Cached lists (web/api/list_cache.py) keep the token they were built under and are rebuilt once it
has moved on, so a cached list is never staler than the last write. Every write to a video, a
rendition or a username moves it: saves and deletes (cascades included) through model signals,
the processing state machine's conditional UPDATEs through ChangeTrackingQuerySet.

Inside a transaction it moves twice: at once, so reads later in the writer's own transaction see
the write, and again after the commit, because a list built by another process between the two
saw the old rows. Outside one (autocommit, the worker's heartbeats) the write is already
committed, and once is enough.
"""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

log = logging.getLogger(__name__)

TOKEN_KEY = "videos:changed"


def videos_changed() -> None:
    move_token()
    if transaction.get_connection().in_atomic_block:  # else the write is committed already
        transaction.on_commit(move_token, robust=True)


def start_token() -> None:
    """A first token where the cache has none (a new or flushed cache); an existing one stays."""
    cache.add(TOKEN_KEY, secrets.token_hex(8), timeout=None)


def move_token() -> None:
    """Every cached list is stale from now on."""
    try:
        cache.set(TOKEN_KEY, secrets.token_hex(8), timeout=None)
    except Exception:
        # The write stands; cached lists live out their short timeout (list_cache.MAX_AGE).
        log.warning("could not mark the video lists stale: the cache is unavailable")


class ChangeTrackingQuerySet(models.QuerySet):
    """QuerySet.update() and bulk_create() send no model signals; these note the change."""

    def update(self, **kwargs) -> int:
        count = super().update(**kwargs)
        if count:
            videos_changed()
        return count

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            videos_changed()
        return created


def _saved_or_deleted(sender, **kwargs) -> None:
    videos_changed()


def _user_saved(sender, update_fields=None, **kwargs) -> None:
    # Lists show the owner's username; a login's last_login update changes nothing they show.
    if update_fields is None or "username" in update_fields:
        videos_changed()


def connect(*senders: type[models.Model]) -> None:
    """Move the token on every save and delete of these models (the app passes its own: this
    module sits below the models, which take their QuerySet from it)."""
    for model in senders:
        post_save.connect(_saved_or_deleted, sender=model, dispatch_uid=f"videos_changed_save_{model.__name__}")
        post_delete.connect(_saved_or_deleted, sender=model, dispatch_uid=f"videos_changed_delete_{model.__name__}")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="videos_changed_user")
