"""`manage.py import_video PATH --user NAME [--title T]`: copy a local file into storage with a
progress bar and queue it for processing, as if NAME had uploaded it."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from domain.errors import DomainError
from domain.videos import services
from domain.videos.models import Video


class _Counting:
    """A read-only file that advances a progress bar as storage reads it (in chunks on local
    disk, through read() in boto3's S3 upload)."""

    def __init__(self, fh, bar: tqdm) -> None:
        self._fh = fh
        self._bar = bar
        self.name = fh.name

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._bar.update(len(data))
        return data

    def __getattr__(self, attr: str):
        return getattr(self._fh, attr)


class Command(BaseCommand):
    help = "Import a local video file for a user and queue it for processing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--user", required=True, help="username of the owner")
        parser.add_argument("--title", help="defaults to the file's name")
        parser.add_argument("--visibility", choices=Video.Visibility.values, default=Video.Visibility.PRIVATE)

    def handle(self, *, path: Path, user: str, title: str | None, visibility: str, **options) -> None:
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"There is no user called {user!r}.") from None
        size = path.stat().st_size
        # tqdm writes carriage returns itself: it gets the raw stream, not Django's wrapper
        # that would end every update with a newline.
        with path.open("rb") as fh, tqdm(total=size, unit="B", unit_scale=True, desc=path.name,
                                         file=self.stderr._out) as bar:
            original = services.FileOriginal(content=File(_Counting(fh, bar), name=path.name),
                                             filename=path.name, size=size)
            try:
                video = services.video_create_from_upload(
                    owner=owner, original=original, title=(title or path.stem)[:200], visibility=visibility,
                )
            except DomainError as exc:  # over the owner's quota, or no room in storage
                raise CommandError(str(exc)) from None
        self.stdout.write(f"Imported {path} as video {video.id}; processing is queued.")
