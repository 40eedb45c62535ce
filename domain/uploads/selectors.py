"""Reading uploads for the pages."""

from __future__ import annotations

from django.db.models import QuerySet

from domain.uploads.models import Upload


def uploads_interrupted_recordings(*, owner) -> QuerySet[Upload]:
    """The owner's unfinished uploads whose length is still deferred: recordings whose page went
    away before the take was confirmed. The bytes that arrived can still become a video."""
    return Upload.objects.unfinished().filter(owner=owner, length__isnull=True).order_by("-updated_at")
