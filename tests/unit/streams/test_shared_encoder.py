"""H.264 live view from one encoder per pipeline: real libx264, real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import time

from tests.unit.streams.support import (
    connect,
    count_encodes,
    passthrough,
    processed,
    start_pipeline,
    streams_app,
    video_codecs,
)
from tests.unit.streams.viewer import Viewer
from tests.unit.waiting import eventually

_STAP_A, _FU_A, _IDR = 24, 28, 5


def nal_types(payload: bytes) -> list[int]:
    """The NAL unit types an H.264 RTP payload (RFC 6184, mode 1) carries."""
    kind = payload[0] & 0x1F
    if kind == _FU_A:
        return [payload[1] & 0x1F]
    if kind != _STAP_A:
        return [kind]
    types, at = [], 1
    while at + 2 < len(payload):
        size = int.from_bytes(payload[at : at + 2], "big")
        types.append(payload[at + 2] & 0x1F)
        at += 2 + size
    return types


def keyframe_times(viewer: Viewer) -> list[float]:
    return [at for at, _, payload in viewer.packets if _IDR in nal_types(payload)]


async def test_two_h264_viewers_are_sent_the_same_packets_of_one_encode(
    tmp_path, video, monkeypatch
) -> None:
    encodes = count_encodes(monkeypatch)
    async with streams_app(tmp_path, video) as (client, _):
        pipeline_id = await start_pipeline(client, passthrough("shared", video))
        viewers = [Viewer(record=True), Viewer(record=True)]
        for viewer in viewers:  # one after the other: encoders of their own would differ
            answer = await connect(client, pipeline_id, viewer)
            assert video_codecs(answer["sdp"])[0] == "H264"
            await viewer.wait_frames(5)
        both_since = time.time()
        received = [len(viewer.frame_times) for viewer in viewers]
        published_before, encoded_before = await processed(client, pipeline_id), len(encodes)
        await asyncio.sleep(3)
        published = await processed(client, pipeline_id) - published_before
        assert published >= 20  # the clip plays at 10 fps
        encoded = len(encodes) - encoded_before
        assert 0.8 * published <= encoded <= published + 2  # once per frame, not per viewer
        for viewer, before in zip(viewers, received, strict=True):
            assert len(viewer.frame_times) - before >= 0.8 * published
            assert viewer.first_image is not None and viewer.first_image.mean() > 40

        first, second = (
            [payload for at, _, payload in viewer.packets if at >= both_since + 0.5]
            for viewer in viewers
        )
        assert len(second) >= 2 * published
        in_both = set(first) & set(second)
        assert len(in_both) >= 0.9 * len(set(second)), "the viewers were sent different video"
        for viewer in viewers:
            await viewer.close()


async def test_a_joining_viewer_and_picture_loss_get_a_keyframe_at_once(tmp_path, video) -> None:
    # Keyframes every minute: any keyframe within the test was asked for.
    async with streams_app(tmp_path, video, "streams.webrtc.keyframe_interval=60") as (
        client,
        _,
    ):
        pipeline_id = await start_pipeline(client, passthrough("join", video))
        watching = Viewer(record=True)
        await connect(client, pipeline_id, watching)
        await watching.wait_frames(10)
        keyframes_before = len(keyframe_times(watching))

        joining = Viewer(record=True)
        began = time.monotonic()
        await connect(client, pipeline_id, joining)
        await joining.wait_frames(1, timeout=10)
        first_frame = time.monotonic() - began
        assert first_frame < 10, f"first frame after {first_frame:.1f}s: no keyframe on demand"
        _, _, first_payload = joining.packets[0]
        assert {_IDR, 7} & set(nal_types(first_payload)), "the first packet is not a keyframe's"
        # The keyframe made for the newcomer reached the viewer already watching too.
        await eventually(
            lambda: asyncio.sleep(0, len(keyframe_times(watching))), lambda n: n > keyframes_before
        )

        loss_at = time.time()
        await joining.report_picture_loss()
        await eventually(
            lambda: asyncio.sleep(0, keyframe_times(joining)),
            lambda times: any(at > loss_at for at in times),
            timeout=10,
        )
        await joining.wait_frames(len(joining.frame_times) + 5)
        for viewer in (watching, joining):
            await viewer.close()
