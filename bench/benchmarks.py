"""Every benchmark, in the order `make bench` runs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench import b_http, b_queue
from bench.env import Stack
from bench.report import Result


@dataclass(frozen=True)
class Bench:
    ids: tuple[str, ...]
    what: str
    run: Callable[[Stack], list[Result]]


ALL = [
    Bench(("B6",), "queue pickup", b_queue.b6),
    Bench(("B7",), "/core/health/live/ vs a bare JSON view", b_http.b7),
]


def select(ids: list[str]) -> list[Bench]:
    if not ids:
        return ALL
    wanted = {i.upper() for i in ids}
    unknown = wanted - {i for b in ALL for i in b.ids}
    if unknown:
        raise KeyError(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return [b for b in ALL if wanted & set(b.ids)]
