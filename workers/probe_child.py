"""The probe's child program: what PyAV reads from an upload, printed as one line of JSON.

Run only fenced, by workers.probe (`python -m workers.probe_child <path>`): opening an upload
means running demuxers and a decoder on hostile bytes. It reports facts and judges nothing, so
it needs neither Django nor settings; the parent decides what the facts mean.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import Counter

import av

from workers.ffmpeg import IMAGE_FORMATS, VIDEO_FORMATS

# Opened only so that the parent can tell an upload it has only sound.
AUDIO_FORMATS = ("mp3", "wav", "flac", "aac", "aiff", "amr")


def facts(path: str) -> dict:
    """What the file holds; {} when no allowed demuxer can open it."""
    allowed = [*VIDEO_FORMATS, *IMAGE_FORMATS, *AUDIO_FORMATS]
    allowed += [name for name in av.formats_available if name.endswith("_pipe")]
    options = {"protocol_whitelist": "file", "format_whitelist": ",".join(allowed)}
    try:
        container = av.open(path, options=options)
    except (av.FFmpegError, OSError, ValueError):
        return {}
    with container:
        audio = next(iter(container.streams.audio), None)
        found: dict = {
            "format": container.format.name,
            "header_duration": container.duration / 1_000_000 if container.duration else None,
            "audio_codec": audio.codec_context.codec.canonical_name if audio else None,
        }
        videos = _pictures(container)
        if not videos:
            return found
        video = videos[0]
        codec = video.codec_context
        rate = video.average_rate or video.guessed_rate
        found.update(
            video_codec=codec.codec.canonical_name,
            pix_fmt=codec.pix_fmt,
            width=codec.width,
            height=codec.height,
            sar=float(video.sample_aspect_ratio) if video.sample_aspect_ratio else None,
            fps=round(float(rate), 3) if rate else 30.0,
            rotation=None,
        )
        try:
            frame = next(container.decode(video))
            found["rotation"] = frame.rotation or 0
        except (av.FFmpegError, StopIteration):
            return found
    found.update(_scan(av.open(path, options=options)))
    # The average is frames over duration: a file joined from clips, or with a gap, averages a
    # little under its real rate, and converting to that would drop a frame every few seconds.
    # Near the average, the frames' most common spacing says the rate; where the two agree within
    # 0.1 % the average stays (counted in whole ticks, the spacing is the coarser of the two).
    typical, fps = found.pop("typical_fps"), found["fps"]
    if typical and fps / 1000 < abs(typical - fps) < fps / 50:
        found["fps"] = typical
    return found


def _pictures(container) -> list:
    """The container's video streams that are not cover art."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def _scan(container) -> dict:
    """Read every packet (no decoding) for the real duration: headers lie, or get cut off."""
    with container:
        video = _pictures(container)[0]
        ends: dict[int, int] = {}  # stream index -> latest pts + duration, in its time base
        video_packets, error = 0, False
        stamps = array("q")  # the video frames' presentation times
        try:
            for packet in container.demux():
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None or packet.size == 0:
                    continue
                index = packet.stream.index
                ends[index] = max(ends.get(index, stamp), stamp + (packet.duration or 0))
                video_packets += index == video.index
                if index == video.index and packet.pts is not None:
                    stamps.append(packet.pts)
        except av.FFmpegError:
            error = True
        start = (container.start_time or 0) / 1_000_000
        stream_ends = (float(ends[s.index] * s.time_base) for s in container.streams if s.index in ends)
        end = max(stream_ends, default=start)
    return {"scanned_duration": end - start, "video_packets": video_packets, "demux_error": error,
            "typical_fps": _typical_fps(stamps, video.time_base)}


def _typical_fps(stamps: array, time_base) -> float | None:
    """The rate of the most common spacing of the frames. The spacings within a tick of it are
    averaged: a coarse time base rounds each time (30 fps in WebM's milliseconds is 33, 33, 34),
    which no single duration shows; wider ones, such as a gap, are left out."""
    shown = sorted(stamps)  # in decoding order, B-frames show out of order
    spacings = Counter(b - a for a, b in zip(shown, shown[1:]) if b > a)
    if not spacings:
        return None
    common = spacings.most_common(1)[0][0]
    near = {spacing: n for spacing, n in spacings.items() if abs(spacing - common) <= 1}
    mean = sum(spacing * n for spacing, n in near.items()) / sum(near.values())
    return round(1 / float(mean * time_base), 3)


if __name__ == "__main__":
    print(json.dumps(facts(sys.argv[1])))
