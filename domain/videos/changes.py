"""Tokens in the cache that move on whenever something a video list shows may have changed.

A list shows its caller's own videos and everybody's public ones (domain/videos/selectors.py),
so there is a token per owner and one for the public videos. A cached list (web/api/list_cache.py)
keeps the tokens it was built under, the public one and, for a signed-in caller, their own, and
is built again once either has moved on, so it is never staler than the last write it shows.

A write moves its video's owner's token, and the public one when the video is public or its
visibility changed; a rendition's write moves its video's; a new username moves its owner's and
the public one. Only writes of what a list shows count (LISTED_FIELDS, and every rendition field):
a heartbeat, a claim or a queue stamp moves nothing, so a video that processes no longer throws
away every caller's lists every two seconds, and its progress only its owner's (and the public
ones while it is public). Saves and deletes (cascades included) are seen through model signals,
the processing state machine's conditional UPDATEs through ChangeTrackingQuerySet.

Inside a transaction a token moves twice: at once, so reads later in the writer's own transaction
see the write, and again after the commit, because a list built by another process between the
two saw the old rows. Outside one (autocommit, the worker's heartbeats) the write is already
committed, and once is enough.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

log = logging.getLogger(__name__)

PUBLIC_TOKEN = "videos:changed:public"
# The Video fields a list shows (web/api/serializers.py VideoSerializer: the owner as a username,
# thumbnail_url from poster, original_url from original). A write of any other field leaves
# every list as it was.
LISTED_FIELDS = frozenset({
    "id", "title", "description", "visibility", "owner", "status", "progress", "error",
    "created_at", "processed_at", "duration", "width", "height", "fps", "poster", "original", "hls_playlist",
    "storyboard",
})
# A caller who stops listing leaves a token behind; it goes by itself. A missing token only means
# the next page is built (and a new token started), never that a stale page is served.
TOKEN_TIMEOUT = 24 * 3600
_PUBLIC = "public"  # Video.Visibility.PUBLIC: this module sits below the models


def owner_token(owner_id: int) -> str:
    return f"videos:changed:owner:{owner_id}"


def list_tokens(user) -> list[str]:
    """The tokens a caller's list depends on: the public videos' and, signed in, their own."""
    return [PUBLIC_TOKEN, owner_token(user.pk)] if user.is_authenticated else [PUBLIC_TOKEN]


def lists_changed(tokens: set[str]) -> None:
    if not tokens:
        return
    move_tokens(tokens)
    if transaction.get_connection().in_atomic_block:  # else the write is committed already
        transaction.on_commit(functools.partial(move_tokens, tokens), robust=True)


def start_tokens(tokens: Iterable[str]) -> None:
    """A first token where the cache has none (new, flushed or expired); existing ones stay."""
    for token in tokens:
        cache.add(token, secrets.token_hex(8), timeout=TOKEN_TIMEOUT)


def move_tokens(tokens: Iterable[str]) -> None:
    """The cached lists that depend on these tokens are stale from now on."""
    try:
        cache.set_many({token: secrets.token_hex(8) for token in tokens}, timeout=TOKEN_TIMEOUT)
    except Exception:
        # The write stands; cached lists live out their short timeout (list_cache.MAX_AGE).
        log.warning("could not mark the video lists stale: the cache is unavailable")


def every_list_stale() -> None:
    """Every list depends on the public token."""
    move_tokens([PUBLIC_TOKEN])


def _tokens_of(rows: Iterable[tuple[int, str]]) -> set[str]:
    """The tokens of videos given as (owner id, visibility)."""
    tokens = set()
    for owner_id, visibility in rows:
        tokens.add(owner_token(owner_id))
        if visibility == _PUBLIC:
            tokens.add(PUBLIC_TOKEN)
    return tokens


@functools.cache
def _video_path(model: type[models.Model]) -> str:
    # A list shows videos and their renditions: a model tracked here is the Video or has a `video`.
    return "video__" if any(f.name == "video" and f.is_relation for f in model._meta.concrete_fields) else ""


def _tokens_for(queryset: models.QuerySet) -> set[str]:
    """The tokens of the videos these rows are, or belong to."""
    path = _video_path(queryset.model)
    return _tokens_of(queryset.order_by().values_list(f"{path}owner_id", f"{path}visibility").distinct())


def _videos_of(model: type[models.Model], video_ids: set) -> models.QuerySet:
    video_model = model._meta.get_field("video").related_model if _video_path(model) else model
    return video_model._default_manager.filter(pk__in=video_ids)


class ChangeTrackingQuerySet(models.QuerySet):
    """QuerySet.update() and bulk_create() send no model signals; these note the change."""

    def update(self, **kwargs) -> int:
        if not _video_path(self.model) and LISTED_FIELDS.isdisjoint(kwargs):
            return super().update(**kwargs)
        # Read first: the update may take its rows out of the filter (pending → processing).
        tokens = _tokens_for(self)
        count = super().update(**kwargs)
        if count:
            lists_changed(tokens | ({PUBLIC_TOKEN} if "visibility" in kwargs else set()))
        return count

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            ids = {getattr(obj, "video_id" if _video_path(self.model) else "pk") for obj in created}
            lists_changed(_tokens_for(_videos_of(self.model, ids)))
        return created


def _video_saved(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    if update_fields is not None and LISTED_FIELDS.isdisjoint(update_fields):
        return
    tokens = _tokens_of([(instance.owner_id, instance.visibility)])
    if not created and (update_fields is None or "visibility" in update_fields):
        tokens.add(PUBLIC_TOKEN)  # it may have been public until now
    lists_changed(tokens)


def _video_deleted(sender, instance, **kwargs) -> None:
    lists_changed(_tokens_of([(instance.owner_id, instance.visibility)]))


def _rendition_written(sender, instance, **kwargs) -> None:
    lists_changed(_tokens_for(_videos_of(sender, {instance.video_id})))


def _user_saved(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    # Lists show the owner's username; a login's last_login update changes nothing they show, and
    # a new user has no videos yet.
    if not created and (update_fields is None or "username" in update_fields):
        lists_changed({owner_token(instance.pk), PUBLIC_TOKEN})


def connect(*senders: type[models.Model]) -> None:
    """Move the tokens on every save and delete of these models, the Video and the models with a
    `video` (the app passes its own: this module sits below the models, which take their
    QuerySet from it)."""
    for model in senders:
        saved, deleted = (_rendition_written, _rendition_written) if _video_path(model) else (_video_saved, _video_deleted)
        post_save.connect(saved, sender=model, dispatch_uid=f"lists_changed_save_{model.__name__}")
        post_delete.connect(deleted, sender=model, dispatch_uid=f"lists_changed_delete_{model.__name__}")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="lists_changed_user")
