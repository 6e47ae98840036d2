"""The raw view through the API: a real aiortc peer decodes the camera's own packets."""

from __future__ import annotations

import asyncio

from tests.unit.streams.clips import write_clip
from tests.unit.streams.support import (
    STREAMS,
    connect,
    count_encodes,
    passthrough,
    start_pipeline,
    streams_app,
    video_codecs,
)
from tests.unit.streams.viewer import Viewer
from tests.unit.waiting import eventually


def raw(offer: dict[str, str]) -> dict[str, str]:
    return {**offer, "view": "raw"}


async def test_a_raw_viewer_decodes_the_cameras_packets_and_gets_the_results(
    tmp_path, monkeypatch
) -> None:
    clip = write_clip(tmp_path / "camera.mp4", "libx264", frames=40)
    encodes = count_encodes(monkeypatch)
    async with streams_app(tmp_path, clip) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("camera", clip))
        viewer = Viewer()
        response = await client.post(
            f"{STREAMS}/{pipeline_id}/webrtc", json=raw(await viewer.offer())
        )
        assert response.status_code == 201, response.text
        assert video_codecs(response.json()["sdp"])[0] == "H264"
        await viewer.accept(response.json())
        await viewer.wait_frames(20, timeout=20)
        assert viewer.first_image is not None and viewer.first_image.shape == (240, 320, 3)
        assert viewer.first_image.mean() > 100  # the bright clip, not a black frame
        assert encodes == []  # nothing encoded for the raw view
        await eventually(lambda: asyncio.sleep(0, len(viewer.results)), lambda n: n >= 5)
        assert all(result["source_id"] == "camera" for result in viewer.results)

        annotated = Viewer()
        await connect(client, pipeline_id, annotated)  # at the same time, as before
        await annotated.wait_frames(5)
        streams = services["streams"]
        assert (await streams.session_count(), await streams.session_count(raw=True)) == (2, 1)
        for peer in (viewer, annotated):
            await peer.close()


async def test_a_source_that_cannot_be_relayed_is_409_and_the_annotated_view_works(
    tmp_path,
) -> None:
    clip = write_clip(tmp_path / "camera.avi", "mjpeg", frames=20)
    elsewhere = write_clip(tmp_path / "worker-only.mp4", "libx264", frames=100)
    async with streams_app(tmp_path, clip) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("mjpeg", clip))
        url = f"{STREAMS}/{pipeline_id}/webrtc"
        refused = await client.post(url, json=raw(await Viewer().offer()))
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "raw_view_unavailable"
        assert "its video is mjpeg, not H.264" in refused.json()["detail"]
        assert await services["streams"].session_count() == 0

        # A file only the worker's node has (here: moved once the worker had it open).
        far_id = await start_pipeline(client, passthrough("far", elsewhere))
        elsewhere.rename(tmp_path / "moved.mp4")
        far = await client.post(f"{STREAMS}/{far_id}/webrtc", json=raw(await Viewer().offer()))
        assert far.status_code == 409 and "not on this node" in far.json()["detail"], far.text

        viewer = Viewer()
        await connect(client, pipeline_id, viewer)
        await viewer.wait_frames(5)
        await viewer.close()


async def test_a_raw_view_needs_h264_in_the_offer(tmp_path) -> None:
    clip = write_clip(tmp_path / "camera.mp4", "libx264", frames=20)
    async with streams_app(tmp_path, clip) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("vp8", clip))
        offer = raw(await Viewer(codecs=["video/VP8"]).offer())
        refused = await client.post(f"{STREAMS}/{pipeline_id}/webrtc", json=offer)
        assert refused.status_code == 409, refused.text
        assert "does not accept H.264" in refused.json()["detail"]
        await eventually(services["streams"].session_count, lambda n: n == 0)
