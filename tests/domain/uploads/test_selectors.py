"""Reading uploads for the pages: the interrupted recordings the upload page offers to finish.

Story: Alice's tab closed during a take; Bob has a take of his own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from domain.uploads.models import Upload
from domain.uploads.selectors import uploads_interrupted_recordings
from domain.uploads.services import upload_append, upload_create

pytestmark = pytest.mark.django_db


def test_only_the_owners_unfinished_deferred_uploads_are_interrupted_recordings(django_user_model):
    alice, bob = (django_user_model.objects.create_user(name) for name in ("alice", "bob"))
    take = upload_create(owner=alice, length=None, filename="take.webm", title="Cut short")
    older = upload_create(owner=alice, length=None, filename="take.webm", title="Older")
    Upload.objects.filter(key=older.key).update(updated_at=timezone.now() - timedelta(minutes=5))
    upload_create(owner=alice, length=10, filename="file.mp4")  # a file: resumed by choosing it again
    upload_create(owner=bob, length=None, filename="take.webm", title="Bob's")
    confirmed = upload_create(owner=alice, length=None, filename="take.webm", title="Confirmed")
    upload_append(owner=alice, key=confirmed.key, offset=0, content_length=3, chunks=[b"abc"], length=3)
    expired = upload_create(owner=alice, length=None, filename="take.webm", title="Expired")
    Upload.objects.filter(key=expired.key).update(updated_at=timezone.now() - timedelta(days=2))

    assert [u.key for u in uploads_interrupted_recordings(owner=alice)] == [take.key, older.key]
