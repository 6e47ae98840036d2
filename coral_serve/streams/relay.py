"""The raw view: a pipeline's own H.264 source, relayed to its viewers without decoding.

Decoding and encoding are what the annotated view costs; when the camera already sends
H.264, its packets can go to the browser as they are (what go2rtc does). One relay per
pipeline per replica opens the source a second time, from this replica's node, while any
raw viewer watches: it paces files at their own rate (looping them when the pipeline
loops), reconnects a network source that drops, and keeps the newest packets in a ring
that every raw viewer reads. The camera decides when keyframes come: a viewer asking for
one waits for the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coral_serve.schema.spec import SourceSpec
from coral_serve.streams.demux import H264Demuxer, RawPacket, SourceLostError, SourceRefusedError
from coral_serve.streams.errors import RawViewUnavailableError
from coral_serve.streams.packets import PacketRing, SharedPackets

__all__ = ["SourceRelay"]

log = logging.getLogger(__name__)

# Packets kept: more than a second or two of video at any common frame rate.
_RING = 128
# A joining viewer starts at the newest keyframe if it is this recent, else at the next.
_REPLAY_SECONDS = 2.0
_DEFAULT_FPS = 25.0
_VIDEO_CLOCK = 90_000
# A paced file this far behind the wall clock skips ahead rather than bursting to catch up.
_MAX_LAG = 1.0


class _Clock:
    """The 90 kHz pts of the relayed packets: increasing across loops and reconnects."""

    def __init__(self) -> None:
        self.last = -1
        self._base = 0
        self._first: float | None = None
        self._fps = _DEFAULT_FPS
        self._count = 0

    def restart(self, fps: float | None) -> None:
        """A new opening of the source: its times continue one frame after the last."""
        self._fps = fps or _DEFAULT_FPS
        self._base = self.last + round(_VIDEO_CLOCK / self._fps)
        self._first = None
        self._count = 0

    def media_time(self, packet: RawPacket) -> float:
        """Seconds into this opening: the source's own times, else counted frames."""
        self._count += 1
        if packet.time is None:
            return (self._count - 1) / self._fps
        if self._first is None:
            self._first = packet.time
        return packet.time - self._first

    def pts(self, media_time: float) -> int:
        self.last = max(self.last + 1, self._base + round(media_time * _VIDEO_CLOCK))
        return self.last


class SourceRelay(SharedPackets):
    """Reads a pipeline's source while any raw viewer watches; viewers read by index."""

    def __init__(self, pipeline_id: str, source: SourceSpec) -> None:
        ring = PacketRing(_RING, replay=_REPLAY_SECONDS, on_join=lambda: None)
        super().__init__(f"coral-relay-{pipeline_id}", ring)
        self.pipeline_id = pipeline_id
        self.source = source
        self._opened: asyncio.Future[None] | None = None

    async def ready(self) -> None:
        """Once the source has opened as H.264; RawViewUnavailableError says why not."""
        assert self._opened is not None, "attach first"
        try:
            await asyncio.shield(self._opened)
        except (SourceRefusedError, SourceLostError) as exc:
            raise RawViewUnavailableError(
                f"the raw view of pipeline {self.pipeline_id!r} is unavailable: {exc} "
                "(the annotated view still works)"
            ) from None

    def request_keyframe(self) -> None:
        """Nothing to do: the camera sends its next keyframe when it does."""

    def attach(self) -> None:
        """One more viewer; the first since everyone left opens the source again."""
        if not self.running:
            self._opened = asyncio.get_running_loop().create_future()
        super().attach()

    async def _run(self) -> None:
        """Relay until the last viewer leaves (within a packet, or the source's read
        timeout), the source ends or is given up on."""
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"coral-relay-{self.pipeline_id}")
        self._ring.clear()  # whatever an earlier run left is stale
        try:
            await self._relay(executor)
        except SourceRefusedError as exc:
            await self._end(exc, f"the raw view is unavailable: {exc}")
        except SourceLostError as exc:
            await self._end(exc, f"the source was lost: {exc}")
        except Exception as exc:  # a bug must not leave viewers waiting
            log.exception("relaying the source of pipeline %s failed", self.pipeline_id)
            await self._end(exc, f"the raw view failed: {type(exc).__name__}")
        finally:
            executor.shutdown(wait=False)

    async def _end(self, exc: Exception, reason: str) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(exc)
            self._opened.exception()  # retrieved: a refused offer is not an unhandled error
        log.warning("raw view of pipeline %s ended: %s", self.pipeline_id, reason)
        await self._ring.close(reason)

    async def _relay(self, executor: ThreadPoolExecutor) -> None:
        """Open, play, and again: after a loop, or a network source's loss (with backoff)."""
        spec, clock, attempts = self.source, _Clock(), 0
        while self._users > 0:
            try:
                demuxer = await _call(executor, H264Demuxer, spec.uri, spec.timeout)
            except SourceLostError:
                if self._opened is not None and not self._opened.done():
                    raise  # a viewer waits for its answer: no retrying behind its back
                attempts = await self._backoff(attempts)
                continue
            if self._opened is not None and not self._opened.done():
                self._opened.set_result(None)
            clock.restart(demuxer.fps)
            before = clock.last
            try:
                await self._play(executor, demuxer, clock)
            except SourceLostError as exc:
                if not demuxer.live:
                    raise
                log.warning("raw view of pipeline %s: the source %s", self.pipeline_id, exc)
            finally:
                executor.submit(demuxer.close)  # after any read still in its thread
            relayed = clock.last != before
            if self._users <= 0:
                return
            if demuxer.live:  # lost, or ended: a live stream that ends has dropped
                attempts = await self._backoff(0 if relayed else attempts)
            elif not (spec.loop and relayed):
                await self._ring.close("the source ended")
                return

    async def _backoff(self, attempts: int) -> int:
        """Wait before reconnecting, as the pipeline's own source would; raises once its
        `reconnect.max_attempts` are spent."""
        reconnect = self.source.reconnect
        if reconnect.max_attempts is not None and attempts >= reconnect.max_attempts:
            raise SourceLostError(f"gave up after {attempts} reconnect attempts")
        delay = min(reconnect.initial_delay * 2**attempts, reconnect.max_delay)
        log.info(
            "raw view of pipeline %s reconnects to %s in %.1fs",
            self.pipeline_id,
            self.source.masked_uri,
            delay,
        )
        await asyncio.sleep(delay)
        return attempts + 1

    async def _play(
        self, executor: ThreadPoolExecutor, demuxer: H264Demuxer, clock: _Clock
    ) -> None:
        """Relay packets until the source ends or no viewer is left."""
        start = time.monotonic()
        while self._users > 0:
            packets = await _call(executor, demuxer.read)
            if packets is None:
                break
            for packet in packets:
                media_time = clock.media_time(packet)
                if not demuxer.live:  # a live source comes at its own pace
                    behind = time.monotonic() - (start + media_time)
                    if behind < 0:
                        await asyncio.sleep(-behind)
                    elif behind > _MAX_LAG:
                        start += behind
                await self._ring.append(packet.data, clock.pts(media_time), packet.keyframe, None)


async def _call(executor: ThreadPoolExecutor, function: Any, *args: Any) -> Any:
    """Run a blocking call in the relay's own thread: one at a time, so a close submitted
    after a read (even one whose caller was cancelled) waits for it."""
    return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
