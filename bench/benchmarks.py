"""Every benchmark, in the order `make bench` runs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    Bench(("B4", "B5"), "upload to playable and to ready vs a hand-made ladder", b_video.b4_b5, 240),
    Bench(("B6",), "queue pickup", b_queue.b6, 15),
    Bench(("B7",), "/core/health/live/ vs a bare JSON view", b_http.b7, 30),
    Bench(("B8",), "/core/api/videos/ vs a bare JSON view", b_http.b8, 30),
    Bench(("B9",), "Range requests on a rendition vs WhiteNoise", b_http.b9, 35),
    Bench(("B10",), "the library page while two transcodes run", b_video.b10, 45),
]


def select(ids: list[str]) -> list[Bench]:
    if not ids:
        return ALL
    wanted = {i.upper().split(".")[0] for i in ids}  # B8.sql is one of B8's figures
    unknown = wanted - {i for b in ALL for i in b.ids}
    if unknown:
        raise KeyError(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return [b for b in ALL if wanted & set(b.ids)]
