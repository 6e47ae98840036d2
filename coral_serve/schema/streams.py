"""Request and response bodies of the streams, sources and recordings APIs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.uri import SourceUriText

__all__ = [
    "IceConfig",
    "IceServerView",
    "ProbeRequest",
    "ProbeResult",
    "RecordingFile",
    "RecordingSegment",
    "SdpAnswer",
    "SdpOffer",
]


class IceServerView(BaseModel):
    """One entry of the browser's `RTCPeerConnection({iceServers})`, in its own spelling."""

    urls: list[str] = Field(description="stun:, turn: or turns: URLs.")
    username: str | None = Field(default=None, description="TURN username.")
    credential: str | None = Field(default=None, description="TURN credential.")


class IceConfig(BaseModel):
    ice_servers: list[IceServerView] = Field(
        serialization_alias="iceServers",
        description="Sent as `iceServers`: pass as `new RTCPeerConnection({iceServers})`.",
    )


class SdpOffer(CoralBaseModel):
    sdp: str = Field(
        min_length=1,
        max_length=65_536,
        description="The browser's offer with its ICE candidates (wait for gathering to "
        "complete); it must receive video and may open a data channel for results.",
    )
    type: Literal["offer"] = Field(default="offer", description="Always `offer`.")
    view: Literal["annotated", "raw"] = Field(
        default="annotated",
        description="`annotated`: the pipeline's frames with its boxes drawn, encoded by the "
        "server. `raw`: the camera's own H.264 packets passed through, never decoded or "
        "encoded (far cheaper per viewer; H.264 sources without B-frames only, which this "
        "server's node must reach itself; the results still come on the data channel, for "
        "the browser to draw). A raw view that cannot be had is answered 409 with the reason.",
    )


class SdpAnswer(BaseModel):
    session_id: str = Field(description="Id for DELETE /api/v1/streams/sessions/{id}.")
    sdp: str = Field(description="The answer, with the server's ICE candidates.")
    type: Literal["answer"] = Field(default="answer", description="Always `answer`.")


class ProbeRequest(CoralBaseModel):
    uri: SourceUriText = Field(
        min_length=1,
        max_length=4096,
        description="A source as a pipeline would take it; the same scheme and file-root "
        "allowlist applies.",
    )


class ProbeResult(BaseModel):
    uri: str = Field(description="The source, with any credentials masked.")
    width: int = Field(description="Frame width in pixels.")
    height: int = Field(description="Frame height in pixels.")
    fps: float | None = Field(description="Frames per second the source reports, if any.")
    codec: str | None = Field(description="FourCC of the video codec, e.g. h264.")
    thumbnail: str = Field(description="The first frame as a base64 JPEG, at most 320 wide.")


class RecordingSegment(BaseModel):
    pipeline_id: str = Field(description="Pipeline that recorded the segment.")
    segment: str = Field(description="File name, for GET/DELETE /api/v1/recordings/{id}/{name}.")
    start: float = Field(description="Capture time of the first frame (epoch seconds).")
    end: float = Field(description="Capture time the segment ends (epoch seconds).")
    duration: float = Field(description="Seconds of video.")
    bytes: int = Field(description="File size.")


class RecordingFile(BaseModel):
    """What the file route needs before it sends bytes."""

    size: int = Field(description="File size in bytes.")
    etag: str = Field(description="Strong validator; segments never change once listed.")
    modified: float = Field(description="Modification time (epoch seconds).")
