"""Claim tokens, the first time a video was ready, and job-step details for staff only.

Additive: three new columns, each with a database default or nullable, so the previous release
keeps working against this schema. Two data steps, both reversible:

- Videos that already have a rendition count as once ready, so a reprocess that fails after
  this release keeps their original and renditions (being conservative keeps data).
- Job-step reasons that are raw exception text ("OSError: [Errno 2] ... /path") move to `detail`
  (staff only), and the owner's `reason` becomes the sentence new steps get.
"""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce

# As workers/processing.py says it (a migration keeps its own copy: the code may change later).
STEP_FAILED = "Something went wrong while processing this video; it has been logged."
# `TypeName: message`, as the worker wrote unexpected errors before; owner sentences never
# start with a single word and a colon.
RAW_EXCEPTION = r"^[A-Za-z_][A-Za-z0-9_]*: "


def mark_playable_videos_ready_once(apps, schema_editor):
    Video = apps.get_model("videos", "Video")
    Video.objects.filter(renditions__isnull=False, first_ready_at__isnull=True).update(
        first_ready_at=Coalesce(F("processed_at"), F("created_at"))
    )


def move_exception_text_to_detail(apps, schema_editor):
    JobStep = apps.get_model("videos", "JobStep")
    JobStep.objects.filter(reason__regex=RAW_EXCEPTION).update(detail=F("reason"), reason=STEP_FAILED)


def move_detail_back_to_reason(apps, schema_editor):
    JobStep = apps.get_model("videos", "JobStep")
    JobStep.objects.filter(reason=STEP_FAILED).exclude(detail="").update(reason=F("detail"))


class Migration(migrations.Migration):

    dependencies = [
        ('videos', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobstep',
            name='detail',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.AddField(
            model_name='video',
            name='claim',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name='video',
            name='first_ready_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_playable_videos_ready_once, migrations.RunPython.noop),
        migrations.RunPython(move_exception_text_to_detail, move_detail_back_to_reason),
    ]
