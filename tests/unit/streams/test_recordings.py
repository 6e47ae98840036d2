"""Recorded segments: written by the worker, listed, served with Range, deleted, and never a
byte from outside the recordings root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.unit.streams.support import RECORDINGS, passthrough, start_pipeline, streams_app
from tests.unit.waiting import eventually

SECRET = b"TOP-SECRET-outside-the-recordings-root"
VALID = "0000000000000-0000000001000.mp4"


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(RECORDINGS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def frames_of(path: Path) -> tuple[str, int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.width, stream.height, count


async def test_recorded_segments_are_listed_served_with_ranges_and_deleted(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, _):
        spec = passthrough("rec", video, record=True, segment_seconds=1)
        pipeline_id = await start_pipeline(client, spec)
        directory = tmp_path / "recordings" / pipeline_id
        partial_seen = False

        async def segments() -> list[dict[str, Any]]:
            nonlocal partial_seen
            partial_seen |= any(p.name.endswith(".part") for p in directory.iterdir())
            return await listed(client, pipeline_id=pipeline_id)

        found = await eventually(segments, lambda s: len(s) >= 3, timeout=30)
        assert partial_seen  # a segment was being written meanwhile, and was never listed
        for segment in found:
            assert segment["pipeline_id"] == pipeline_id
            assert 0.5 <= segment["duration"] <= 2.5
            assert segment["end"] > segment["start"]
            path = directory / segment["segment"]
            assert segment["bytes"] == path.stat().st_size > 0
            codec, width, height, count = frames_of(path)
            assert (codec, width, height) == ("h264", 768, 576)
            assert count >= 5  # 10 fps for about a second
        assert [s["start"] for s in found] == sorted(s["start"] for s in found)

        second = found[1]
        window = await listed(client, start=second["start"] + 0.01, end=second["end"] - 0.01)
        assert [s["segment"] for s in window] == [second["segment"]]
        assert await listed(client, pipeline_id="0123abcd") == []

        url = f"{RECORDINGS}/{pipeline_id}/{second['segment']}"
        whole = await client.get(url)
        content = (directory / second["segment"]).read_bytes()
        assert whole.status_code == 200 and whole.content == content
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert int(whole.headers["content-length"]) == len(content)
        etag = whole.headers["etag"]
        size = len(content)
        for header, first, last in [
            ("bytes=0-99", 0, 99),
            ("bytes=100-", 100, size - 1),
            ("bytes=-50", size - 50, size - 1),
            ("bytes=7-7", 7, 7),
            (f"bytes={size - 10}-{size + 500}", size - 10, size - 1),
        ]:
            part = await client.get(url, headers={"Range": header})
            assert part.status_code == 206, header
            assert part.content == content[first : last + 1], header
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert int(part.headers["content-length"]) == last - first + 1
        beyond = await client.get(url, headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
        assert beyond.json()["error"] == "range_not_satisfiable"
        assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
        stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        assert stale.status_code == 200 and stale.content == content

        assert (await client.delete(url)).status_code == 204
        assert (await client.get(url)).status_code == 404
        assert (await client.delete(url)).status_code == 404
        names = [s["segment"] for s in await listed(client, pipeline_id=pipeline_id)]
        assert second["segment"] not in names

        # The segment open when the pipeline stops is finished, not lost.
        count = len(names)
        await client.delete(f"/api/v1/pipelines/{pipeline_id}")
        after = await listed(client, pipeline_id=pipeline_id)
        assert len(after) >= count + 1
        assert not [p for p in directory.iterdir() if p.name.endswith(".part")]


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A recordings root with escape hatches next to it: a secret file just outside, a
    segment-named symlink to it, and a pipeline directory that is a symlink outside."""
    root = tmp_path / "recordings"
    (root / "cam").mkdir(parents=True)
    (root / "cam" / "1700000000000-1700000001000.mp4").write_bytes(b"real segment")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "cam" / VALID).symlink_to(tmp_path / "secret.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / VALID).write_bytes(SECRET)
    (root / "evil").symlink_to(outside)
    return root


TRAVERSALS = [
    "/api/v1/recordings/cam/../../secret.txt",
    "/api/v1/recordings/cam/..%2F..%2Fsecret.txt",
    "/api/v1/recordings/..%2F..%2Fsecret.txt",
    "/api/v1/recordings/%2e%2e/secret.txt",
    "/api/v1/recordings/cam/%2e%2e",
    "/api/v1/recordings/%2e%2e/%2e%2e",
    "/api/v1/recordings/cam/%252e%252e%252fsecret.txt",
    "/api/v1/recordings/cam/..%5C..%5Csecret.txt",
    "/api/v1/recordings/cam/%2Fetc%2Fpasswd",
    "/api/v1/recordings/%2Fetc/passwd",
    "/api/v1/recordings/cam/%2F" + "tmp%2F" + VALID,
    f"/api/v1/recordings/cam/{VALID}%00",
    f"/api/v1/recordings/cam/{VALID}",  # a symlink to the secret
    f"/api/v1/recordings/evil/{VALID}",  # a directory symlinked outside
    f"/api/v1/recordings/cam/.{VALID}.part",
]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_traversal_attempts_are_refused_without_a_byte_outside(
    tmp_path, video, planted, method
) -> None:
    async with streams_app(tmp_path, video) as (client, _):
        for path in TRAVERSALS:
            response = await client.request(method, path, headers={"Range": "bytes=0-"})
            assert response.status_code in (400, 404), (path, response.status_code)
            assert response.json()["error"] in ("bad_path", "not_found"), path
            assert SECRET not in response.content and b"root:" not in response.content
        for params in ({"pipeline_id": ".."}, {"pipeline_id": "../cam"}, {"pipeline_id": "/"}):
            response = await client.get(RECORDINGS, params=params)
            assert response.status_code == 400, params
        everything = await listed(client)
        assert [(s["pipeline_id"], s["segment"]) for s in everything] == [
            ("cam", "1700000000000-1700000001000.mp4")
        ]
        real = await client.get("/api/v1/recordings/cam/1700000000000-1700000001000.mp4")
        assert real.status_code == 200 and real.content == b"real segment"
    assert (tmp_path / "secret.txt").read_bytes() == SECRET
    assert (tmp_path / "outside" / VALID).read_bytes() == SECRET
    assert os.path.islink(planted / "cam" / VALID)
