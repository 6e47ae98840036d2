"""A source's H.264 packets as they are, in Annex B with SPS/PPS before each keyframe.

Demux only: nothing here decodes. MP4 and MKV carry AVCC (length-prefixed NAL units, the
parameter sets in the header), which aiortc's packetizer cannot split; `h264_mp4toannexb`
rewrites them. Streams already in Annex B (RTSP, MPEG-TS) may keep SPS/PPS out of band,
so `dump_extra` repeats the header before each keyframe. Blocking: run it in a thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av

from coral_serve.schema.redact import masked_text, masked_uri
from coral_serve.schema.uri import parse_source_uri

__all__ = ["H264Demuxer", "RawPacket", "SourceLostError", "SourceRefusedError"]

_AVCC = 1  # the first byte of an avcC header; Annex B starts with a 0x000001 start code


class SourceRefusedError(Exception):
    """The source can never be relayed: not H.264, a camera device, no such file here."""


class SourceLostError(Exception):
    """The source did not open or stopped delivering; a network source may come back."""


@dataclass(frozen=True, slots=True)
class RawPacket:
    data: bytes  # one access unit, Annex B
    time: float | None  # decode time in seconds on the source's clock (None: unknown)
    keyframe: bool


def _reason(exc: Exception) -> str:
    """An FFmpeg error without any credential (its message can quote the URL)."""
    return masked_text(str(exc))[:200]


class H264Demuxer:
    """One opening of a source, read packet by packet."""

    def __init__(self, uri: str, timeout: float) -> None:
        source = parse_source_uri(uri)
        if source.scheme == "device":
            raise SourceRefusedError("a camera device is read by the pipeline's worker alone")
        if source.path is not None and not Path(source.path).is_file():
            raise SourceRefusedError(
                f"the file {masked_uri(uri)} is not on this node (StreamService's)"
            )
        try:
            self._container = av.open(str(source.target), timeout=timeout)
        except (av.FFmpegError, OSError) as exc:
            raise SourceLostError(f"could not be opened: {_reason(exc)}") from None
        try:
            self._stream = self._video()
            codec = self._stream.codec_context
            avcc = bool(codec.extradata) and codec.extradata[0] == _AVCC
            name = "h264_mp4toannexb" if avcc else "dump_extra=freq=keyframe"
            self._filter = av.BitStreamFilterContext(name, self._stream)
        except BaseException:
            self._container.close()
            raise
        self._packets = self._container.demux(self._stream)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate and 0 < rate <= 240 else None
        duration = self._container.duration
        # A file (local or http) has a duration; a live stream does not.
        self.live = source.path is None and not (duration and duration > 0)

    def _video(self) -> av.VideoStream:
        if not self._container.streams.video:
            raise SourceRefusedError("the source has no video stream")
        stream = self._container.streams.video[0]
        codec = stream.codec_context
        if codec.name != "h264":
            raise SourceRefusedError(
                f"its video is {codec.name}, not H.264: only H.264 is passed through unchanged"
            )
        if codec.has_b_frames:  # Chromium showed 4 frames in 3 s of such a stream
            raise SourceRefusedError(
                "its H.264 has B-frames, which WebRTC receivers do not reorder: the annotated "
                "view re-encodes without them"
            )
        return stream

    def read(self) -> list[RawPacket] | None:
        """The next packet's access units (one, as a rule); None at the end of the source."""
        while True:
            try:
                packet = next(self._packets)
            except StopIteration:
                return None
            except (av.FFmpegError, OSError) as exc:
                raise SourceLostError(f"stopped delivering: {_reason(exc)}") from None
            if packet.size:
                return [self._raw(out) for out in self._filter.filter(packet)]

    def _raw(self, packet: av.Packet) -> RawPacket:
        stamp = packet.dts if packet.dts is not None else packet.pts
        time_base = self._stream.time_base
        seconds = float(stamp * time_base) if stamp is not None and time_base else None
        if seconds is not None and not math.isfinite(seconds):
            seconds = None
        return RawPacket(bytes(packet), seconds, packet.is_keyframe)

    def close(self) -> None:
        self._container.close()
