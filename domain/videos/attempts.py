"""One processing attempt of a video, from its claim to how it ends.

A worker claims a pending video (video_claim) and gets a Claim; every later write of the attempt
names it and is conditional on the video still being claimed by it, so a second delivery of the
job, or a worker that wakes after its attempt was recovered or the video reprocessed, changes
nothing. The writes that insert rows (job steps, renditions) or record a stored file (the
poster) hold the video row's lock while they check the claim: video_delete takes the same lock
first, so such a row lands before the delete collects what to cascade, or finds the video gone
(ClaimLost), never in between, where the cascade would fail its foreign key check.

How an attempt ends decides what is kept:
- ready (video_mark_ready): the ladder's renditions stay, older labels it no longer makes go;
- a limit hit (video_give_back) says the machine was busy, not that the file is bad: the attempt
  goes back to the queue like a crash, and the last one fails keeping the original for a later
  reprocess;
- a file that is not a usable video (video_reject) loses its original only if it never played;
- anything else (video_fail) keeps every file.
A video that was ever ready keeps its original and renditions whatever a later attempt does, and
goes back to ready with the reason in `error` (Video.mark_failed).

Heartbeats and progress are best effort: the database may blip during an hours-long transcode,
and a missed beat is tried again on a new connection, with backoff (Heartbeat), never raised
into ffmpeg's progress callback.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, InterfaceError, connection, transaction

from domain.storage import storage_delete_under, storage_replace
from domain.videos.hls import MASTER, hls_folder_of, hls_prefix_of
from domain.videos.models import Claim, JobStep, Rendition, Video, storage_prefix_of
from domain.videos.services import video_enqueue
from domain.videos.storyboard import STORYBOARD

log = logging.getLogger(__name__)

PROCESSING_FAILED = "Something went wrong while processing this video; it has been logged."
CLAIM_LOST = "Another attempt took over this video."

# A heartbeat goes to the database at least this often whatever step runs (a long probe or
# download reports no progress), so recovery can tell a live attempt from a dead one quickly.
HEARTBEAT_SECONDS = 10.0
# Progress (with a heartbeat) goes to the database at most this often while ffmpeg runs.
PROGRESS_EVERY_SECONDS = 2.0
# After a database error a beat is tried again this soon, then twice as late each time, up to
# HEARTBEAT_SECONDS: a dropped connection is replaced at once, a server restart is waited out.
DB_RETRY_FIRST_SECONDS = 0.5
DB_FAULTS = (DatabaseError, InterfaceError)
_DETAIL_MAX = 2000


class ClaimLost(Exception):
    """The attempt no longer owns the video (recovered, reprocessed or deleted): stop quietly."""


def video_claim(*, video_id: str) -> Claim | None:
    """Start an attempt on a pending video; None when another delivery has it or it is done."""
    return Video.claim_for_processing(video_id)


def video_beat(*, claim: Claim, progress: float | None = None) -> bool | None:
    """Heartbeat (and progress) of the attempt: False once it lost its claim, None when the
    database failed. The connection is then closed, so the next try opens a new one (Django
    would keep reusing the broken one)."""
    try:
        return Video.beat(claim.video_id, claim.token, None if progress is None else round(progress))
    except DB_FAULTS as exc:
        log.warning("video %s: could not beat (%s); trying again on a new connection", claim.video_id, exc)
        connection.close()
        return None


def beat_retry_after(failures: int) -> float:
    return min(HEARTBEAT_SECONDS, DB_RETRY_FIRST_SECONDS * 2 ** (failures - 1))


class Heartbeat:
    """Paces one attempt's beats: the next one is due `every` seconds after a beat that reached
    the database, and sooner, with backoff, after one that did not."""

    def __init__(self, claim: Claim, *, every: float) -> None:
        self.claim, self.every = claim, every
        self._due = time.monotonic() + every
        self._failures = 0

    def wait(self) -> float:
        """Seconds until the next beat is due."""
        return max(0.0, self._due - time.monotonic())

    def beat(self, progress: float | None = None, *, force: bool = True) -> bool | None:
        """A beat now (unless `force` is off and none is due yet, which returns True): as
        video_beat, False once the claim is gone and None when the database failed."""
        if not force and self.wait() > 0:
            return True
        mine = video_beat(claim=self.claim, progress=progress)
        self._failures = self._failures + 1 if mine is None else 0
        self._due = time.monotonic() + (beat_retry_after(self._failures) if mine is None else self.every)
        return mine


@contextmanager
def _claimed_row(claim: Claim, stored: str | None = None) -> Iterator[None]:
    """Hold the video row while the attempt still owns it; ClaimLost otherwise, removing the file
    it had just `stored`, as on any failure (nothing refers to it then)."""
    try:
        with transaction.atomic():
            if not Video.lock_if_claimed(claim.video_id, claim.token):
                raise ClaimLost(claim.video_id)
            yield
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise


def video_step_begin(*, claim: Claim, step: str) -> int:
    """Record that a step of the attempt starts; its id, for video_step_end."""
    with _claimed_row(claim):
        return JobStep.objects.create(video_id=claim.video_id, attempt=claim.attempt, step=step).id


def video_step_end(*, step_id: int, reason: str = "", error: BaseException | None = None) -> None:
    """Record how a step ended: ok, or failed with `reason`, a sentence for the owner. What went
    wrong in detail (the exception's type and text: ffmpeg's last lines, paths) is for staff."""
    if not reason:
        JobStep.finish(step_id, JobStep.Outcome.OK)
        return
    detail = "" if error is None else f"{type(error).__name__}: {error}"[:_DETAIL_MAX]
    JobStep.finish(step_id, JobStep.Outcome.FAILED, reason, detail)


def _store(claim: Claim, path: Path, kind: str) -> str:
    # A new name every time: a reprocess never overwrites what plays until its row points elsewhere.
    name = f"{storage_prefix_of(claim.video_id)}{kind}-{secrets.token_hex(4)}{path.suffix}"
    with path.open("rb") as fh:
        return default_storage.save(name, File(fh, name=path.name))


def video_store_poster(*, claim: Claim, path: Path) -> None:
    """Store the poster and point the video at it; the one it replaces is removed."""
    name = _store(claim, path, "poster")
    with _claimed_row(claim, name):
        old = Video.objects.values_list("poster", flat=True).get(id=claim.video_id)
        Video.beat(claim.video_id, claim.token, poster=name)
    if old and old != name:
        default_storage.delete(old)


def video_store_rendition(*, claim: Claim, label: str, width: int, height: int, path: Path) -> None:
    """Store a rendition; an earlier one of the same label (a reprocess) plays until this replaces it."""
    name = _store(claim, path, label)
    with _claimed_row(claim, name):
        old = Rendition.objects.filter(video_id=claim.video_id, label=label).first()
        Rendition.objects.update_or_create(
            video_id=claim.video_id, label=label,
            defaults={"width": width, "height": height, "file": name, "size_bytes": path.stat().st_size},
        )
    if old and old.file != name:
        default_storage.delete(old.file)


def video_store_hls(*, claim: Claim, name: str, content: File) -> None:
    """Store one file of the attempt's HLS (`name` relative to its folder), replacing an earlier
    version (a playlist grows). Unfenced by the claim, unlike the other writes: a segment lands
    every few seconds per variant, and the files go to the attempt's own folder, which nothing
    plays before video_hls_playable or video_mark_ready points the video at it, and which
    video_drop_hls removes when the attempt ends without doing so."""
    storage_replace(hls_folder_of(claim.video_id, claim.token) + name, content)


def video_hls_playable(*, claim: Claim) -> bool:
    """The attempt's master playlist and the first segments of every variant are stored: a video
    that never was ready plays them from now on (an earlier attempt's HLS goes), while one that
    was keeps playing its current HLS until this attempt is ready. True when the video switched;
    ClaimLost when the attempt no longer owns the video."""
    with _claimed_row(claim):
        if Video.objects.filter(id=claim.video_id, first_ready_at__isnull=False).exists():
            return False
        older = _other_hls_folders(claim)
        Video.beat(claim.video_id, claim.token, hls_playlist=hls_folder_of(claim.video_id, claim.token) + MASTER)
    for folder in older:
        storage_delete_under(folder)
    return True


def _other_hls_folders(claim: Claim) -> list[str]:
    # Listed while the attempt holds the row: no later attempt can have started a folder yet.
    prefix, mine = hls_prefix_of(claim.video_id), hls_folder_of(claim.video_id, claim.token)
    try:
        folders, _ = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    return [f"{prefix}{folder}/" for folder in folders if f"{prefix}{folder}/" != mine]


def video_drop_hls(*, claim: Claim) -> None:
    """An attempt that ended without being ready removes what it stored of its HLS, unless the
    video plays it (a new video's attempt that failed or went back to the queue: a later attempt
    replaces it)."""
    folder = hls_folder_of(claim.video_id, claim.token)
    if not Video.objects.filter(id=claim.video_id, hls_playlist__startswith=folder).exists():
        storage_delete_under(folder)


def video_mark_ready(
    *, claim: Claim, keep: set[str], duration: float, width: int, height: int, fps: float | None = None,
    hls: bool = False,
) -> bool:
    """Finish the attempt: renditions of labels outside `keep` (an earlier ladder's) go, and the
    video is ready; with `hls`, it plays the attempt's HLS from now on and earlier attempts' HLS
    goes. False, and the video left as it is, when no rendition is left to play; ClaimLost when
    the attempt no longer owns the video."""
    with _claimed_row(claim):
        dropped = list(Rendition.objects.filter(video_id=claim.video_id).exclude(label__in=keep))
        for old in dropped:
            old.delete()
        older = _other_hls_folders(claim) if hls else []
    for old in dropped:
        default_storage.delete(old.file)
    if not Rendition.objects.filter(video_id=claim.video_id).exists():
        return False
    folder = hls_folder_of(claim.video_id, claim.token)
    playlist = {"hls_playlist": folder + MASTER, "storyboard": folder + STORYBOARD} if hls else {}
    if not Video.mark_ready(
        claim.video_id, claim.token, duration=duration, width=width, height=height, fps=fps, **playlist
    ):
        raise ClaimLost(claim.video_id)
    for folder in older:
        storage_delete_under(folder)
    return True


def video_give_back(*, claim: Claim, error: str) -> None:
    """An attempt that hit a limit goes back to the queue, as a crash would; the last one fails
    with `error`, keeping the original so a later reprocess (on a quieter or bigger machine) can
    succeed."""
    if claim.is_last:
        Video.mark_failed(claim.video_id, claim.token, error)
    elif Video.release(claim.video_id, claim.token):
        video_enqueue(video_id=claim.video_id)


def video_reject(*, claim: Claim, error: str) -> None:
    """The file is not a usable video. A new upload keeps nothing: no original, poster or
    renditions. A video that was ever ready keeps everything and plays on."""
    if not Video.mark_rejected(claim.video_id, claim.token, error):
        Video.mark_failed(claim.video_id, claim.token, error)
        return
    Rendition.objects.filter(video_id=claim.video_id).delete()
    storage_delete_under(storage_prefix_of(claim.video_id))


def video_fail(*, claim: Claim, error: str = PROCESSING_FAILED) -> None:
    """The attempt failed for any other reason: every file is kept."""
    Video.mark_failed(claim.video_id, claim.token, error)
