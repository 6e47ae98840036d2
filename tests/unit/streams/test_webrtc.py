"""WebRTC live view with real aiortc peers over loopback UDP, against in-process services."""

from __future__ import annotations

import asyncio
import logging
import re

from aiortc import RTCConfiguration, RTCPeerConnection

from coral_serve.config.streams import Codec
from coral_serve.streams.webrtc import codec_preferences
from coral_serve.workers.local import LocalWorkerPool
from tests.conftest import shared_file
from tests.unit.streams.support import (
    STREAMS,
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


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_viewer_gets_annotated_video_and_each_frames_results(tmp_path, video) -> None:
    model = shared_file("models", "nanodet-g-416.onnx")
    spec = passthrough("plaza", video)
    spec["model"] = {"path": str(model), "decoder": "nanodet", "threads": 1}
    async with streams_app(tmp_path, video) as (client, services):
        pipeline_id = await start_pipeline(client, spec)
        viewer = Viewer()
        answer = await connect(client, pipeline_id, viewer)
        assert candidate_addresses(answer["sdp"]) == {"127.0.0.1"}
        assert video_codecs(answer["sdp"])[0] == "H264"

        await viewer.wait_frames(30)
        assert viewer.first_image is not None
        assert viewer.first_image.shape == (576, 768, 3)
        assert viewer.first_image.mean() > 40  # the plaza, not a black frame
        await eventually(lambda: asyncio.sleep(0, len(viewer.results)), lambda n: n >= 30)
        seqs = [result["seq"] for result in viewer.results]
        assert seqs == sorted(set(seqs))
        with_persons = [
            r for r in viewer.results if any(d["class"] == "person" for d in r["detections"])
        ]
        assert len(with_persons) >= 0.9 * len(viewer.results)
        assert all(r["timestamp"] > 0 and r["source_id"] == "plaza" for r in viewer.results)

        # The id names the replica holding the session, which closes are routed to.
        assert re.fullmatch(r"[0-9a-z]{1,32}-[0-9a-f]{32}", answer["session_id"])
        session = f"{STREAMS}/sessions/{answer['session_id']}"
        assert (await client.delete(session)).status_code == 204
        await asyncio.wait_for(viewer.ended.wait(), 10)
        assert await services["streams"].session_count() == 0
        again = await client.delete(session)
        assert again.status_code == 404 and again.json()["error"] == "not_found"
        await viewer.close()


async def test_two_viewers_both_get_every_frame_from_one_subscription(
    tmp_path, video, monkeypatch
) -> None:
    pulls: list[str] = []
    call = LocalWorkerPool.call

    async def counting_call(self, pipeline_id, method, *args, **kwargs):
        if method == "wait_view":
            pulls.append(pipeline_id)
        return await call(self, pipeline_id, method, *args, **kwargs)

    monkeypatch.setattr(LocalWorkerPool, "call", counting_call)
    async with streams_app(tmp_path, video) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("pair", video))
        viewers = [Viewer(), Viewer()]
        for viewer in viewers:
            await connect(client, pipeline_id, viewer)
        for viewer in viewers:
            await viewer.wait_frames(5)

        received = [len(viewer.frame_times) for viewer in viewers]
        published_before, pulls_before = await processed(client, pipeline_id), len(pulls)
        await asyncio.sleep(4)
        published = await processed(client, pipeline_id) - published_before
        assert published >= 25  # the clip plays at 10 fps
        for viewer, before in zip(viewers, received, strict=True):
            assert len(viewer.frame_times) - before >= 0.8 * published
        assert len(pulls) - pulls_before <= 1.3 * published + 3  # not one pull per viewer
        assert await services["streams"].watched() == [pipeline_id]
        for viewer in viewers:
            await viewer.close()


async def test_a_browser_without_h264_gets_vp8_encoded_for_it_alone(
    tmp_path, video, monkeypatch
) -> None:
    encodes = count_encodes(monkeypatch)
    async with streams_app(tmp_path, video) as (client, _):
        pipeline_id = await start_pipeline(client, passthrough("vp8", video))
        viewer = Viewer(codecs=["video/VP8"])
        answer = await connect(client, pipeline_id, viewer)
        assert video_codecs(answer["sdp"])[0] == "VP8"
        await viewer.wait_frames(10)
        assert viewer.first_image is not None and viewer.first_image.shape == (576, 768, 3)
        assert encodes == []  # no shared H.264 encoder started for nobody
        await viewer.close()


def test_codec_preference_puts_the_configured_codec_first() -> None:
    h264 = codec_preferences(Codec.h264)
    assert (h264[0].mimeType, h264[0].parameters["profile-level-id"]) == ("video/H264", "42e01f")
    assert h264[0].parameters["packetization-mode"] == "1"
    assert "video/VP8" in [codec.mimeType for codec in h264]  # the fallback stays offered
    assert codec_preferences(Codec.vp8)[0].mimeType == "video/VP8"


async def test_viewer_limits_per_pipeline_and_per_replica_are_429(tmp_path, video) -> None:
    limits = (
        "streams.webrtc.max_viewers_per_pipeline=1",
        "streams.webrtc.max_sessions_per_replica=2",
    )
    async with streams_app(tmp_path, video, *limits) as (client, services):
        first = await start_pipeline(client, passthrough("one", video))
        second = await start_pipeline(client, passthrough("two", video))
        third = await start_pipeline(client, passthrough("three", video))
        viewers = [Viewer() for _ in range(4)]
        offers = [await viewer.offer() for viewer in viewers]

        assert (await client.post(f"{STREAMS}/{first}/webrtc", json=offers[0])).status_code == 201
        same = await client.post(f"{STREAMS}/{first}/webrtc", json=offers[1])
        assert same.status_code == 429
        assert "max_viewers_per_pipeline" in same.json()["detail"]
        assert (await client.post(f"{STREAMS}/{second}/webrtc", json=offers[2])).status_code == 201
        full = await client.post(f"{STREAMS}/{third}/webrtc", json=offers[3])
        assert full.status_code == 429 and full.json()["error"] == "too_many"
        assert "max_sessions_per_replica" in full.json()["detail"]
        assert await services["streams"].session_count() == 2
        for viewer in viewers:
            await viewer.close()


async def test_sessions_close_when_the_pipeline_stops(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("gone", video))
        viewer = Viewer()
        await connect(client, pipeline_id, viewer)
        await viewer.wait_frames(3)
        assert (await client.delete(f"/api/v1/pipelines/{pipeline_id}")).status_code == 204
        await asyncio.wait_for(viewer.ended.wait(), 15)
        await eventually(services["streams"].session_count, lambda n: n == 0)
        await viewer.close()


async def test_sessions_close_when_the_viewer_goes_away(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("left", video))
        viewer = Viewer()
        await connect(client, pipeline_id, viewer)
        await viewer.wait_frames(3)
        assert await services["streams"].session_count(pipeline_id) == 1
        await viewer.close()
        await eventually(services["streams"].session_count, lambda n: n == 0, timeout=15)


async def test_unusable_offers_are_422_and_unknown_ids_404(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, services):
        pipeline_id = await start_pipeline(client, passthrough("bad", video))
        url = f"{STREAMS}/{pipeline_id}/webrtc"
        garbage = await client.post(url, json={"sdp": "v=0\r\nnonsense", "type": "offer"})
        assert garbage.status_code == 422 and garbage.json()["error"] == "invalid_request"
        answer_type = await client.post(url, json={"sdp": "v=0", "type": "answer"})
        assert answer_type.status_code == 422
        data_only = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        data_only.createDataChannel("results")
        await data_only.setLocalDescription(await data_only.createOffer())
        offer = {"sdp": data_only.localDescription.sdp, "type": "offer"}
        no_video = await client.post(url, json=offer)
        assert no_video.status_code == 422, no_video.text
        assert "video" in no_video.json()["detail"]
        unknown = await client.post(f"{STREAMS}/0123abcd/webrtc", json=offer)
        assert unknown.status_code == 404 and "not running" in unknown.json()["detail"]
        missing = await client.delete(f"{STREAMS}/sessions/gone-{'0' * 32}")
        assert missing.status_code == 404
        assert await services["streams"].session_count() == 0
        await data_only.close()


async def test_turn_credential_only_in_the_ice_config(tmp_path, video, caplog) -> None:
    servers = (
        "streams.webrtc.ice_servers=[{urls: ['stun:127.0.0.1:9']}, "
        "{urls: ['turn:127.0.0.1:9'], username: viewer, credential: tUrN-s3cret}]"
    )
    caplog.set_level(logging.DEBUG)
    async with streams_app(tmp_path, video, servers) as (client, _):
        response = await client.get(f"{STREAMS}/ice-config")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {
            "iceServers": [
                {"urls": ["stun:127.0.0.1:9"], "username": None, "credential": None},
                {"urls": ["turn:127.0.0.1:9"], "username": "viewer", "credential": "tUrN-s3cret"},
            ]
        }
        pipeline_id = await start_pipeline(client, passthrough("turn", video))
        viewer = Viewer()
        offered = await client.post(f"{STREAMS}/{pipeline_id}/webrtc", json=await viewer.offer())
        assert offered.status_code == 201
        assert "tUrN-s3cret" not in (await client.get("/config.json")).text
        await viewer.close()
    assert "tUrN-s3cret" not in caplog.text


async def test_disabled_webrtc_points_viewers_to_mjpeg(tmp_path, video) -> None:
    async with streams_app(tmp_path, video, "streams.webrtc.enabled=false") as (client, _):
        pipeline_id = await start_pipeline(client, passthrough("off", video))
        viewer = Viewer()
        refused = await client.post(f"{STREAMS}/{pipeline_id}/webrtc", json=await viewer.offer())
        assert refused.status_code == 404 and "MJPEG" in refused.json()["detail"]
        await viewer.close()


async def test_viewer_counts_reach_the_prometheus_metrics(tmp_path, video) -> None:
    fast = (
        "monitoring=prometheus",
        "monitoring.poll_interval=0.2",
        "monitoring.flush_interval=0.2",
    )
    async with streams_app(tmp_path, video, *fast) as (client, _):
        pipeline_id = await start_pipeline(client, passthrough("watched", video))
        viewer = Viewer()
        answer = await connect(client, pipeline_id, viewer)
        label = f'pipeline="{pipeline_id}"'

        async def viewers_metric() -> str:
            rows = (await client.get("/metrics")).text.splitlines()
            return next(
                (r for r in rows if r.startswith("coral_stream_viewers{") and label in r), ""
            )

        watched = await eventually(viewers_metric, lambda row: row.endswith(" 1.0"))
        assert 'name="watched"' in watched
        await client.delete(f"{STREAMS}/sessions/{answer['session_id']}")
        await eventually(viewers_metric, lambda row: row.endswith(" 0.0") or row == "")
        await viewer.close()
