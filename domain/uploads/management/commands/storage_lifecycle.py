"""`manage.py storage_lifecycle`: make the S3 bucket abort multipart uploads left incomplete, and
let the watch page's player read media from it (CORS).

bin/deploy-heroku-container runs it on every deploy (in a one-off dyno, with the app's own
credentials); it changes the bucket only when a rule is missing or different.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from domain.storage import uses_s3
from domain.uploads.stores import (
    ABORT_RULE_ID,
    CORS_RULE_ID,
    abort_after_days,
    bucket_abort_rule_apply,
    bucket_cors_rule_apply,
)


class Command(BaseCommand):
    help = (
        "Make the S3 bucket abort incomplete multipart uploads and answer cross-origin reads of media "
        "(keeps its other lifecycle and CORS rules)."
    )
    requires_system_checks = []  # it needs the bucket, not the database

    def handle(self, *args, **options) -> None:
        if not uses_s3():
            self.stdout.write("storage: no S3 bucket is configured (AWS_STORAGE_BUCKET_NAME): nothing to do")
            return
        days = abort_after_days()
        changed = bucket_abort_rule_apply(days=days)
        self.stdout.write(
            f"storage: bucket {settings.AWS_STORAGE_BUCKET_NAME} aborts multipart uploads still incomplete "
            f"{days} days after they began (lifecycle rule {ABORT_RULE_ID}: {'added' if changed else 'already in place'})"
        )
        changed = bucket_cors_rule_apply()
        self.stdout.write(
            f"storage: bucket {settings.AWS_STORAGE_BUCKET_NAME} answers the player's cross-origin GET and HEAD "
            f"(CORS rule {CORS_RULE_ID}: {'added' if changed else 'already in place'})"
        )
