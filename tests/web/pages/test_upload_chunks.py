"""The upload page's tus client sends bigger chunks on a fast link, within what the server allows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.pages.conftest import CHUNK, signup, start_live

pytestmark = pytest.mark.slow

MOST = 2 * CHUNK


@pytest.fixture
def growing_live(processes, collected_static, ffmpeg):
    return start_live(processes, collected_static, UPLOAD_CHUNK_MAX_BYTES=str(MOST))


def test_chunks_grow_on_a_fast_link_in_whole_chunks_up_to_the_servers_maximum(growing_live, browse, clip):
    live = growing_live
    source = clip("take.mp4", seconds=3, width=854, height=480)
    size = Path(source).stat().st_size
    assert size > 3 * MOST, "the clip must span several of the largest chunks"
    page = browse().new_page()
    signup(page, live, "gus")
    offsets: list[int] = []  # of each PATCH; the browser does not show a Blob body's length
    page.on("request", lambda r: offsets.append(int(r.headers["upload-offset"])) if r.method == "PATCH" else None)

    page.goto(live("/videos/upload/"))
    page.locator("#files").set_input_files(str(source))
    page.get_by_label("Title").fill("Fast link")
    page.get_by_role("button", name=f"Upload {source.name}").click()
    expect(page.locator("[data-role=upload-progress]")).to_have_attribute("value", "100", timeout=60_000)

    sent = [end - start for start, end in zip(offsets, [*offsets[1:], size])]
    assert offsets[0] == 0 and sent[0] == CHUNK, sent
    assert all(n % CHUNK == 0 and CHUNK <= n <= MOST for n in sent[:-1]), sent
    # On 127.0.0.1 the first chunk alone shows the link is fast: the rest go at the maximum.
    assert len(sent) == 1 + math.ceil((size - CHUNK) / MOST), sent
