"""The raw view's relay on real files and a real HTTP stream: demux only, nothing decoded."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from pathlib import Path

import pytest

from coral_serve.schema.spec import SourceSpec
from coral_serve.streams import relay as relay_module
from coral_serve.streams.errors import RawViewUnavailableError
from coral_serve.streams.packets import EncodedFrame
from coral_serve.streams.relay import SourceRelay
from tests.unit.streams.clips import write_clip
from tests.unit.waiting import eventually

_SPS, _PPS, _IDR = 7, 8, 5


def annex_b_types(data: bytes) -> list[int]:
    """The NAL unit types of an Annex B access unit (each after a 0x000001 start code)."""
    return [match.group(1)[0] & 0x1F for match in re.finditer(rb"\x00\x00\x01(.)", data, re.S)]


async def read(relay: SourceRelay, count: int) -> list[EncodedFrame]:
    frames: list[EncodedFrame] = []
    index = None
    for _ in range(count):
        frame = await relay.next(index)
        frames.append(frame)
        index = frame.index
    return frames


def count_openings(monkeypatch) -> list[str]:
    """Every demuxer any relay opens appends its URI to the list returned."""
    opened: list[str] = []
    demuxer = relay_module.H264Demuxer

    def opening(uri: str, timeout: float) -> relay_module.H264Demuxer:
        opened.append(uri)
        return demuxer(uri, timeout)

    monkeypatch.setattr(relay_module, "H264Demuxer", opening)
    return opened


async def test_an_mp4_file_is_relayed_as_annex_b_from_a_keyframe_at_its_own_pace(
    tmp_path,
) -> None:
    clip = write_clip(tmp_path / "camera.mp4", "libx264", frames=40)  # AVCC, 20 fps
    relay = SourceRelay("camera", SourceSpec(uri=str(clip)))
    relay.attach()
    await relay.ready()
    began = time.monotonic()
    frames = await read(relay, 21)
    elapsed = time.monotonic() - began
    assert 0.9 < elapsed < 2.0, f"21 frames at 20 fps took {elapsed:.2f}s"
    first = frames[0]
    assert first.keyframe and first.data.startswith(b"\x00\x00\x00\x01")
    for keyframe in (f for f in frames if f.keyframe):
        types = annex_b_types(keyframe.data)
        assert types.index(_SPS) < types.index(_PPS) < types.index(_IDR), types
    assert sum(f.keyframe for f in frames) == 3  # one every 10 frames
    assert all(annex_b_types(f.data) for f in frames), "a packet without start codes (AVCC)"
    assert [f.index for f in frames] == list(range(first.index, first.index + 21))
    steps = {later.pts - earlier.pts for earlier, later in itertools.pairwise(frames)}
    assert steps == {4500}, steps  # 20 fps on the 90 kHz clock
    relay.detach()


async def test_two_viewers_share_one_opening_which_ends_with_the_last_viewer(
    tmp_path, monkeypatch
) -> None:
    clip = write_clip(tmp_path / "loop.mp4", "libx264", frames=10)  # half a second at 20 fps
    opened = count_openings(monkeypatch)
    relay = SourceRelay("loop", SourceSpec(uri=str(clip), loop=True))
    relay.attach()
    relay.attach()
    await relay.ready()
    first, second = await asyncio.gather(read(relay, 25), read(relay, 25))
    assert len(opened) >= 3  # looped twice; one opening at a time for both viewers
    assert [f.data for f in first] == [f.data for f in second]
    assert first[0].keyframe and sum(f.keyframe for f in first) >= 2
    pts = [f.pts for f in first]
    assert pts == sorted(set(pts)), "the clock went back at a loop"

    relay.detach()
    await asyncio.sleep(0.3)
    assert relay.running  # one viewer left
    openings = len(opened)
    relay.detach()
    await eventually(lambda: asyncio.sleep(0, relay.running), lambda running: not running)
    await asyncio.sleep(0.6)
    assert len(opened) == openings, "the relay went on looping with nobody watching"


@pytest.mark.parametrize(
    ("suffix", "codec", "name"), [("avi", "mjpeg", "mjpeg"), ("webm", "libvpx", "vp8")]
)
async def test_a_source_in_another_codec_is_refused_with_the_reason(
    tmp_path, suffix, codec, name
) -> None:
    clip = write_clip(tmp_path / f"clip.{suffix}", codec, frames=5)
    relay = SourceRelay("other", SourceSpec(uri=str(clip)))
    relay.attach()
    with pytest.raises(RawViewUnavailableError, match=f"its video is {name}, not H.264"):
        await relay.ready()
    relay.detach()
    assert relay.closed


async def test_h264_with_b_frames_is_refused(video) -> None:
    relay = SourceRelay("plaza", SourceSpec(uri=str(video)))  # H.264 High with B-frames
    relay.attach()
    with pytest.raises(RawViewUnavailableError, match="has B-frames"):
        await relay.ready()


async def test_a_file_missing_on_this_node_and_credentials_stay_out_of_the_reasons(
    tmp_path, caplog
) -> None:
    missing = SourceRelay("far", SourceSpec(uri=str(tmp_path / "on-the-worker.mp4")))
    missing.attach()
    with pytest.raises(RawViewUnavailableError, match="is not on this node"):
        await missing.ready()

    caplog.set_level(logging.DEBUG)
    camera = SourceRelay("cam", SourceSpec(uri="rtsp://admin:hunter2@127.0.0.1:9/live"))
    camera.attach()
    with pytest.raises(RawViewUnavailableError, match="could not be opened") as refused:
        await camera.ready()
    assert "hunter2" not in refused.value.detail and "rtsp://***@127.0.0.1" in refused.value.detail
    assert "hunter2" not in caplog.text


async def test_a_network_stream_that_drops_is_reconnected(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "cam.ts", "libx264", frames=20).read_bytes()
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Live MPEG-TS (no length), then the connection drops."""
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + clip)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reconnect = {"initial_delay": 0.1, "max_delay": 0.2}
    spec = SourceSpec(uri=f"http://127.0.0.1:{port}/cam.ts", timeout=5, reconnect=reconnect)
    relay = SourceRelay("cam", spec)
    relay.attach()
    await relay.ready()
    frames = await read(relay, 50)  # 20 a connection
    assert connections >= 3
    pts = [f.pts for f in frames]
    assert pts == sorted(set(pts))
    relay.detach()
    server.close()
