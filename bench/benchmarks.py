"""Every benchmark, in the order `make bench` runs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bench import b_http, b_queue, b_upload, b_video
from bench.env import Stack
from bench.report import Result


@dataclass(frozen=True)
class Bench:
    ids: tuple[str, ...]
    what: str
    run: Callable[[Stack], list[Result]]
    seconds: int  # about how long it takes on a busy 2-core machine, to plan repeats


ALL = [
    Bench(("B1", "B3"), "multipart upload speed and memory", b_upload.b1_b3, 90),
    Bench(("B2",), "tus upload speed", b_upload.b2, 60),
    Bench(("B4", "B5", "B5b", "B11"), "H.264/AAC: upload to playable and to ready vs the hand-made and "
          "MediaCMS's ladders", partial(b_video.b4_b5, codec="h264"), 600),
    Bench(("B4", "B5", "B5b"), "VP9/Opus: upload to playable and to ready vs a hand-made ladder",
          partial(b_video.b4_b5, codec="vp9"), 300),
    Bench(("B4", "B5", "B5b"), "HEVC/AAC: upload to playable and to ready vs a hand-made ladder",
          partial(b_video.b4_b5, codec="hevc"), 300),
    Bench(("B5b", "B12"), "the 10-minute source: first playable vs the 60 s clip's; chunked vs whole",
          b_video.b12, 1600),
    Bench(("B6",), "queue pickup", b_queue.b6, 15),
    Bench(("B7",), "/core/health/live/ vs a bare JSON view", b_http.b7, 30),
    Bench(("B8",), "/core/api/videos/ vs a bare JSON view", b_http.b8, 30),
    Bench(("B9",), "Range requests on a rendition vs WhiteNoise", b_http.b9, 35),
    Bench(("B8p", "B10"), "the video list and the library page while two transcodes run",
          b_video.b8p_b10, 90),
]


def select(ids: list[str]) -> list[Bench]:
    if not ids:
        return ALL
    wanted = {i.upper().split(".")[0] for i in ids}  # B8.sql is one of B8's figures, b5b is B5b
    unknown = wanted - {i.upper() for b in ALL for i in b.ids}
    if unknown:
        raise KeyError(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return [b for b in ALL if wanted & {i.upper() for i in b.ids}]
