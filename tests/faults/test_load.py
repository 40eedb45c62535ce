"""Twenty people uploading at once against one worker of concurrency 2."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.faults.conftest import upload, user_token, wait_ready
from tests.media import make_clip

pytestmark = pytest.mark.slow

USERS, PER_USER = 5, 4


def test_twenty_concurrent_uploads_from_five_users_all_become_ready(stack, tmp_path):
    stack.web(WEB_CONCURRENCY="2")
    stack.start("worker", VIDEO_WORKER_CONCURRENCY="2")
    tokens = {f"user{n}": user_token(f"user{n}") for n in range(USERS)}
    clip = make_clip(tmp_path / "c.mp4", seconds=1, width=320, height=240)

    latencies, list_codes, done = [], [], threading.Event()

    def watch_the_list() -> None:
        headers = {"Authorization": f"Token {tokens['user0']}"}
        while not done.is_set():
            started = time.perf_counter()
            list_codes.append(requests.get(f"{stack.base}/core/api/videos/", headers=headers, timeout=30).status_code)
            latencies.append(time.perf_counter() - started)

    watcher = threading.Thread(target=watch_the_list)
    watcher.start()
    try:
        jobs = [(name, n) for name in tokens for n in range(PER_USER)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            responses = list(pool.map(lambda job: (job[0], upload(stack.base, tokens[job[0]], clip,
                                                                   title=f"{job[0]}-{job[1]}", timeout=120)), jobs))
        assert [r.status_code for _, r in responses] == [201] * len(jobs), [r.text for _, r in responses]
        owned = {name: {r.json()["id"] for n, r in responses if n == name} for name in tokens}
        wait_ready([i for ids in owned.values() for i in ids], 300)
    finally:
        done.set()
        watcher.join()

    for name, token in tokens.items():
        body = requests.get(f"{stack.base}/core/api/videos/", headers={"Authorization": f"Token {token}"},
                            timeout=30).json()
        assert {v["id"] for v in body["results"]} == owned[name] and body["count"] == PER_USER, name
    assert set(list_codes) == {200}
    # Reported, not asserted: wall-clock numbers on a shared 2-core machine belong to `make bench`.
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    print(f"/core/api/videos/ during the load: {len(latencies)} requests, p99 {p99 * 1000:.0f} ms")
