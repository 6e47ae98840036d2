"""`streams`: WebRTC, capture probing and recordings."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.streams import IceConfig, IceServerView

__all__ = [
    "NODE_DATA_DIR_ENV",
    "Codec",
    "IceServer",
    "MediaConfig",
    "RecordingsConfig",
    "StreamsConfig",
    "WebRTCConfig",
    "node_path",
]

# A node whose own data volume is mounted elsewhere than the descriptor's data dir says where
# in its environment (as a pod does), under the name the descriptor's own override has.
NODE_DATA_DIR_ENV = "CORAL_PIPELINES__DATA_DIR"


def node_path(path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None) -> Path:
    """Where a descriptor path under `data_dir` (recordings, event media) lies on the node
    running this code; other paths, and every path on a node without its own, stay as
    they are."""
    own = os.environ.get(NODE_DATA_DIR_ENV)
    if not own or data_dir is None:
        return Path(path)
    try:
        relative = Path(path).relative_to(data_dir)
    except ValueError:
        return Path(path)
    return Path(own) / relative


class Codec(str, Enum):
    vp8 = "VP8"
    h264 = "H264"


class IceServer(CoralBaseModel):
    urls: list[str] = Field(min_length=1, description="stun:, turn: or turns: URLs.")
    username: str | None = Field(default=None, description="TURN username.")
    credential: SecretStr | None = Field(
        default=None, description="TURN credential (a secret; only sent to browsers as ICE config)."
    )

    @field_validator("urls")
    @classmethod
    def _known_scheme(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL")
        return urls


class WebRTCConfig(CoralBaseModel):
    enabled: bool = Field(default=True, description="Offer WebRTC live view.")
    ice_servers: list[IceServer] = Field(
        default_factory=list, description="STUN/TURN servers for NAT traversal."
    )
    host_addresses: list[str] = Field(
        default_factory=list,
        description="Local addresses to gather host candidates on; empty lets aioice choose.",
    )
    codec: Codec = Field(
        default=Codec.h264,
        description="Preferred video codec. H264: one encoder per pipeline per replica feeds "
        "every viewer (browsers without H.264 fall back to VP8, encoded per viewer); VP8: "
        "an encoder per viewer.",
    )
    shared_encoder: bool = Field(
        default=True,
        description="Send every H.264 viewer of a pipeline the packets of one encoder. "
        "False: each viewer gets an encoder of its own, which follows its own bandwidth, at "
        "an encode per frame per viewer (bench/streams.py measures both).",
    )
    keyframe_interval: float = Field(
        default=2.0,
        ge=0.25,
        le=60,
        description="Seconds between keyframes of a shared H.264 stream; a joining viewer or "
        "a picture-loss report asks for one at once.",
    )
    max_viewers_per_pipeline: int = Field(
        default=10, ge=1, le=1000, description="Concurrent WebRTC viewers of one pipeline."
    )
    max_sessions_per_replica: int = Field(
        default=50, ge=1, le=10000, description="Concurrent WebRTC sessions per replica."
    )

    def ice_config(self) -> IceConfig:
        """The only place a TURN credential leaves the server: the browser needs it."""
        return IceConfig(
            ice_servers=[
                IceServerView(
                    urls=server.urls,
                    username=server.username,
                    credential=server.credential.get_secret_value() if server.credential else None,
                )
                for server in self.ice_servers
            ]
        )


class RecordingsConfig(CoralBaseModel):
    directory: str | None = Field(
        default=None,
        description="Root directory of recorded segments; null: `<data_dir>/recordings`.",
    )
    segment_seconds: float = Field(
        default=60.0, ge=1, le=3600, description="Length of one recorded MP4 segment."
    )


class MediaConfig(CoralBaseModel):
    shared: bool = Field(
        default=False,
        description="Every node mounts the same media volume (ReadWriteMany): the local "
        "directory is the truth and no per-node media agents run. False: each node's agent "
        "lists, serves, deletes and enforces the disk quota on that node's files.",
    )
    agent_timeout: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds a node's media agent may take to answer before that node's files "
        "are left out of a listing.",
    )


class StreamsConfig(CoralBaseModel):
    webrtc: WebRTCConfig = Field(default_factory=WebRTCConfig, description="WebRTC live view.")
    capture_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds allowed to open a source when probing."
    )
    mjpeg_max_fps: float = Field(
        default=15.0, gt=0, le=60, description="Frame rate cap of MJPEG streams."
    )
    recordings: RecordingsConfig = Field(
        default_factory=RecordingsConfig, description="Recorded segments."
    )
    media: MediaConfig = Field(
        default_factory=MediaConfig,
        description="Where recordings and event media live across nodes.",
    )
